"""The only code that talks to the outside world: GitHub, the runner, the bakeries."""
