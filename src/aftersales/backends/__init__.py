"""Backends: the stores behind the hooks. `memory` ships always; `sql` with the extra."""
