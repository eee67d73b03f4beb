"""A CDS Hooks 2.0 service: cited treatment options as cards inside the clinical record.

Needs the ``service`` extra (``pip install 'mbc-rules[service]'``). The modules that make cards
and check requests (``cards``, ``hooks``, ``contract``) use only the core; ``app`` brings in
Starlette and uvicorn, ``auth`` brings in PyJWT. Run it with ``mbc-rules serve``.
"""

from __future__ import annotations

from mbc_rules.service.contract import SERVICES, error_schema, response_schema

__all__ = ["SERVICES", "error_schema", "response_schema"]
