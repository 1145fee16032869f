"""Bills (结算单), their fund rows and a visit's uploaded fee lines: the tables and every statement
on them, below everything that reads or writes them."""
