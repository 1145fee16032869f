"""The CSV import as it was before the staging table (commit 86adb3a: every row held in
Python, the cross-row checks in Python), kept unchanged as the reference that
``test_imports_reference`` compares the staging-table import with."""
