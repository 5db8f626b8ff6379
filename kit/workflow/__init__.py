"""Workflows: templates (DAGs of typed steps), their validation, and the pure planner.

- ``model``: the frozen template model and its digest;
- ``load``: YAML/JSON bytes → template, every problem named by its path;
- ``validate``: the problems of a document (schema docs/schemas/workflow.schema.json, then
  ids, needs, cycles, conditions, settings);
- ``expr``: the ``if`` expression language (never ``eval``);
- ``steps``: the step-type registry, one module per type;
- ``plan``: (template, run state, now) → steps to start/skip/stop, and the verdict;
- ``default``: today's path (gates → approval → deploy) as a template.

No I/O beyond reading the packaged JSON Schema; the appliance stores and executes.
"""
