"""Workflow runs: the executor of kit.workflow plans (docs/workflows.md "Runs")."""
