"""Pictures of the state machines and of what executions did on them, and the HTML report.

`asl_graph` reads a definition into a graph, `overlay` reads execution histories onto it,
`dot` and `svg` draw it (Graphviz's dot layout, compiled to WebAssembly), `html` writes
the report of `testbed run` and `testbed demo`, `pytest_pictures` the test suite's.
"""
