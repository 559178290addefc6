"""Development tools of the crm_bridge repository (not part of the installed package)."""
