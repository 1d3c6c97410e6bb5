"""Old home of the HTTP config-service client; it lives in harness/config/http.py now (this shim keeps imports working)."""

from .config.http import ConfigClient, ConfigVersion

__all__ = ["ConfigClient", "ConfigVersion"]
