"""The insurer's catalogue (医保目录, 三目录) and each hospital's code mapping (目录对照).

A national code (``med_list_codg``) has a charge level (``chrgitm_lv``: 01 甲类, 02 乙类,
03 丙类), a self-pay ratio (``selfpay_prop``) and a price cap (``pric_uplmt_amt``) over date
ranges; a hospital maps its own codes (``medins_list_codg``) to national codes. Once a
catalogue is loaded it decides every fee line's category at settle and preview; what the
hospital declares no longer counts. ``models`` and ``repository`` hold the tables and
statements, ``csvfile`` and ``ranges`` read and merge the import files (pure), ``cache`` keeps
the catalogue in memory per process, ``service`` runs the imports and listings."""
