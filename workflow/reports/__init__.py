"""Reports: volumes, durations and bottlenecks computed in the database, scoped to the viewer's unit."""
