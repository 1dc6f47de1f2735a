"""The gate's scanners, one module per engine: each runs its engine and maps what it reports to the catalog."""
