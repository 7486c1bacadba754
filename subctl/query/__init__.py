"""The query language: a typed AST (``ast``), its text parser, and compilers to SQL and to
HubSpot CRM search ``filterGroups``."""
