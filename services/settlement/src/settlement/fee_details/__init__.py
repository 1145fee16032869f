"""Fee details uploaded in batches before a settle (费用明细上传, like the national 2204 / 2301),
and their withdrawal (2205 / 2302)."""
