"""The national healthcare-security platform interface (国家医疗保障信息平台 定点医药机构接口):
one ``POST`` of an envelope (``infno``, ``msgid``, ``input``) answered by an envelope
(``infcode``, ``output``), translated onto medaid's own services — the same engine, rules and
store as the native API, so every amount is the same to the fen. See
``docs/national-interface.md``."""
