"""What every package may import: the domain records, normalisation of input shapes, topic names and
wire encoding, data tables, metric definitions. It imports no project package but `config`."""
