"""BEANS' fixed class lists (datasets.yml of github.com/earthspecies/beans), in BEANS' order.

BEANS builds `label_to_id = {label: i for i, label in enumerate(labels)}` from these lists, so a
class index (and, for detection, the cluster label argmax + 1 of a multi-hot window) is the
position in this list, whatever the annotation files contain: classes absent from a split keep
their slot, and the numeric lists (rfcx 0..23, bats, hainan-gibbons) are in numeric order, not
the string order `sorted()` gives ("0", "1", "10", ...). Labels are stored in canonical form
(labels.canonical), as the builders compare them. Data only; catalog.py uses it when
`data.class_order="beans"` (the paper mode).
"""

BEANS_CLASSES: dict[str, tuple[str, ...]] = {
    "watkins": (
        "Clymene_Dolphin", "Bottlenose_Dolphin", "Spinner_Dolphin", "Beluga,_White_Whale",
        "Bearded_Seal", "Minke_Whale", "Humpback_Whale", "Southern_Right_Whale",
        "White-sided_Dolphin", "Narwhal", "White-beaked_Dolphin", "Northern_Right_Whale",
        "Frasers_Dolphin", "Grampus,_Rissos_Dolphin", "Harp_Seal", "Atlantic_Spotted_Dolphin",
        "Fin,_Finback_Whale", "Ross_Seal", "Rough-Toothed_Dolphin", "Killer_Whale",
        "Pantropical_Spotted_Dolphin", "Short-Finned_Pacific_Pilot_Whale", "Bowhead_Whale",
        "False_Killer_Whale", "Melon_Headed_Whale", "Long-Finned_Pilot_Whale", "Striped_Dolphin",
        "Leopard_Seal", "Walrus", "Sperm_Whale", "Common_Dolphin",
    ),
    "bats": (
        "111", "210", "211", "215", "216", "220", "226", "228", "230", "231",
    ),
    "cbi": (
        "aldfly", "ameavo", "amebit", "amecro", "amegfi", "amekes", "amepip", "amered", "amerob",
        "amewig", "amewoo", "amtspa", "annhum", "astfly", "baisan", "baleag", "balori", "banswa",
        "barswa", "bawwar", "belkin1", "belspa2", "bewwre", "bkbcuc", "bkbmag1", "bkbwar",
        "bkcchi", "bkchum", "bkhgro", "bkpwar", "bktspa", "blkpho", "blugrb1", "blujay", "bnhcow",
        "boboli", "bongul", "brdowl", "brebla", "brespa", "brncre", "brnthr", "brthum", "brwhaw",
        "btbwar", "btnwar", "btywar", "buffle", "buggna", "buhvir", "bulori", "bushti", "buwtea",
        "buwwar", "cacwre", "calgul", "calqua", "camwar", "cangoo", "canwar", "canwre", "carwre",
        "casfin", "caster1", "casvir", "cedwax", "chispa", "chiswi", "chswar", "chukar", "clanut",
        "cliswa", "comgol", "comgra", "comloo", "commer", "comnig", "comrav", "comred", "comter",
        "comyel", "coohaw", "coshum", "cowscj1", "daejun", "doccor", "dowwoo", "dusfly", "eargre",
        "easblu", "easkin", "easmea", "easpho", "eastow", "eawpew", "eucdov", "eursta", "evegro",
        "fiespa", "fiscro", "foxspa", "gadwal", "gcrfin", "gnttow", "gnwtea", "gockin", "gocspa",
        "goleag", "grbher3", "grcfly", "greegr", "greroa", "greyel", "grhowl", "grnher", "grtgra",
        "grycat", "gryfly", "haiwoo", "hamfly", "hergul", "herthr", "hoomer", "hoowar", "horgre",
        "horlar", "houfin", "houspa", "houwre", "indbun", "juntit1", "killde", "labwoo", "larspa",
        "lazbun", "leabit", "leafly", "leasan", "lecthr", "lesgol", "lesnig", "lesyel", "lewwoo",
        "linspa", "lobcur", "lobdow", "logshr", "lotduc", "louwat", "macwar", "magwar", "mallar3",
        "marwre", "merlin", "moublu", "mouchi", "moudov", "norcar", "norfli", "norhar2", "normoc",
        "norpar", "norpin", "norsho", "norwat", "nrwswa", "nutwoo", "olsfly", "orcwar", "osprey",
        "ovenbi1", "palwar", "pasfly", "pecsan", "perfal", "phaino", "pibgre", "pilwoo", "pingro",
        "pinjay", "pinsis", "pinwar", "plsvir", "prawar", "purfin", "pygnut", "rebmer", "rebnut",
        "rebsap", "rebwoo", "redcro", "redhea", "reevir1", "renpha", "reshaw", "rethaw", "rewbla",
        "ribgul", "rinduc", "robgro", "rocpig", "rocwre", "rthhum", "ruckin", "rudduc", "rufgro",
        "rufhum", "rusbla", "sagspa1", "sagthr", "savspa", "saypho", "scatan", "scoori", "semplo",
        "semsan", "sheowl", "shshaw", "snobun", "snogoo", "solsan", "sonspa", "sora", "sposan",
        "spotow", "stejay", "swahaw", "swaspa", "swathr", "treswa", "truswa", "tuftit", "tunswa",
        "veery", "vesspa", "vigswa", "warvir", "wesblu", "wesgre", "weskin", "wesmea", "wessan",
        "westan", "wewpew", "whbnut", "whcspa", "whfibi", "whtspa", "whtswi", "wilfly", "wilsni1",
        "wiltur", "winwre3", "wlswar", "wooduc", "wooscj2", "woothr", "y00475", "yebfly",
        "yebsap", "yehbla", "yelwar", "yerwar", "yetvir",
    ),
    "dogs": (
        "Farley", "Freid", "Keri", "Louie", "Luke", "Mac", "Roodie", "Rudy", "Siggy", "Zoe",
    ),
    "humbugdb": (
        "non-mosquito", "an arabiensis", "others", "an gambiae ss", "culex quinquefasciatus",
        "culex pipiens complex", "an funestus ss", "an squamosus", "ma uniformis", "an dirus",
        "ae aegypti", "an harrisoni", "an maculatus", "an funestus sl",
    ),
    "dcase": (
        "AMRE", "BBWA", "BTBW", "CALL", "CCMK", "CHSP", "COYE", "GCTH", "GIG", "GRN", "OVEN", "Q",
        "RBGR", "SAVS", "SNMK", "SQT", "SWTH", "WTSP",
    ),
    "enabirds": (
        "AMCR", "AMGO", "AMRE", "AMRO", "BAWW", "BCCH", "BGGN", "BHCO", "BHVI", "BLJA", "BTNW",
        "BWWA", "CARW", "COYE", "EATO", "HETH", "HOWA", "KEWA", "LOWA", "NOCA", "NOFL", "OVEN",
        "RBGR", "RBWO", "RCKI", "REVI", "SCTA", "SWTH", "TUTI", "WBNU", "WITU", "WOTH", "YBCU",
        "OTHR",
    ),
    "hiceas": (
        "1",
    ),
    "rfcx": (
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
        "16", "17", "18", "19", "20", "21", "22", "23",
    ),
    "hainan-gibbons": (
        "1", "2", "3",
    ),
}
