"""Sources and CRMs behind one small protocol (`connectors.base`), with a shared
HTTP layer for the CRM connectors and one error tree (`connectors.errors`)."""
