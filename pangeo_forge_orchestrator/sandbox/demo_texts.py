"""What the demo says: why each step matters, and what to do when it cannot start."""

RUNNER_MISSING = """\
✗ pangeo-forge-runner is not available (PFO_RUNNER_COMMAND={command}).
  `make demo` installs it into .tools/runner and runs the demo with it."""
PORT_BUSY = """\
✗ 127.0.0.1:{port} is taken (is `make run` running? stop it first, or pass --port)."""
START_WHY = (
    "A database, the web service and its worker, and a simulated GitHub in the same process."
)
PROPOSE_WHY = (
    "A recipe is proposed like on pangeo-forge.org: a pull request adding recipes/<name>/\n"
    "with meta.yaml (what and who), recipe.py (an Apache Beam pipeline) and requirements.txt."
)
OUTSIDER_WHY = "Running a recipe runs its code, so only people with write access may ask for it."
MAINTAINER_WHY = (
    "The service bakes the pull request's recipe with pangeo-forge-runner on the local\n"
    "bakery (Apache Beam's DirectRunner), pruned to its first inputs, as a test."
)
RESULT_WHY = "The check run and a comment tell the author how it went, and how to open the data."
MERGE_WHY = (
    "Merging to staged-recipes creates the recipe's own repository, its feedstock, and\n"
    "removes the recipe from staged-recipes."
)
PRODUCTION_WHY = "The feedstock's first merge starts a full (not pruned) run: a GitHub deployment."
DATASET_WHY = "What pangeo-forge.org shows: the feedstock's datasets, with where to open them."
DONE = """
✓ The whole story passed in {seconds:.0f} s.
Everything stays in {data_dir}; `make run` serves it again. Pages to visit:
{story}"""
