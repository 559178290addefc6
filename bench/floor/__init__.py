"""The benchmark's floor: the least work a write endpoint of this site can do — one row inserted in one
transaction, answered 202 with a small JSON body — through the same server, middleware and database."""
