"""A local emulator of the 全程云 CRM Web API (all 39 handlers), with fault injection. See README.md here."""
