from pangeo_forge_orchestrator.cli import app

app(prog_name="pfo")
