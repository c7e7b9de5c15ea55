"""Agent evaluation: start an agent on a blind incident, let it act, score its diagnosis.

`python -m mockinfra.eval <command>`: `score` grades a diagnosis against a truth record,
`run` is the evaluation loop (`nox -s eval`), `actions` serves the agent's action API.
"""
