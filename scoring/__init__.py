"""Pure scoring domain: lead facts, the model file schema, answer parsing, the
engine and calibration statistics. No I/O here: nothing in this package reads
files, opens sockets or imports `requests`, `connectors` or `jobs`."""
