"""Agents and service hierarchical state machines: named, versioned definitions that services are built from.

Both follow one life cycle (create, list, new version, list versions, deprecate), described once by a
`DefinitionKind`; what differs is a version's body and how it is checked."""
