"""Build the Pantau demo stream: service/demo/posts.jsonl, and its truth (truth.csv, events.csv).

Everything here is fictional and was written for the project: the candidates, parties and
policies come from config/watchlist.yaml, the handles are made up, the links point at
example domains. The texts are hand-written templates below; this script only composes
them, picks authors and spreads timestamps. It is deterministic (fixed seed, stdlib only):

    python scripts/build_demo.py

Timeline (UTC, 2026-11-20, 11:00-14:00 = 18:00-21:00 WIB):
  * background chatter, about 2 posts a minute, political and not;
  * 12:30-12:40 the #KPDBocor wave (Kartu Pangan Digital data leak, ~120 posts, mostly
    negative), decaying until 12:55;
  * 13:10-13:13 a copy-paste "buzzer" pattern: 15 fresh accounts praise Bima Hartono
    with near-identical text;
  * 13:40-13:50 a smaller positive wave (#DebatCapres, ~50 posts) about Sari Lestari after
    the debate's closing statements.

Beside the stream it writes the ground truth of the issue evaluation (`pantau eval issues`):
truth.csv (`post_id,event`: each post's id as Pantau stores it, `x:<id>`, and the planted
happening it belongs to, empty for background chatter, political or not) and events.csv
(`event,name,onset,keywords`: the three planted happenings, their start times and keywords).
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20261120
START = datetime(2026, 11, 20, 11, 0, 0, tzinfo=UTC)
MINUTES = 180
DEMO = Path(__file__).resolve().parent.parent / "service" / "demo"
OUT = DEMO / "posts.jsonl"
TRUTH_OUT = DEMO / "truth.csv"
EVENTS_OUT = DEMO / "events.csv"
FIRST_ID = 1861000000000000000  # native-looking numeric ids, increasing with time

# --------------------------------------------------------------------------------------------
# Aliases used to fill {raka}, {sari}, ... in templates (all from config/watchlist.yaml).
ALIASES = {
    "raka": ["Pak Raka", "Raka Wibisana", "Mas Raka", "Pak Raka Wibisana", "Raka"],
    "sari": ["Bu Sari", "Sari Lestari", "Ibu Sari", "Mbak Sari", "Bu Sari Lestari"],
    "bima": ["Pak Bima", "Bima Hartono", "Pak Bima Hartono", "Bima"],
    "pnm": ["PNM", "Partai Nusantara Maju", "Nusantara Maju"],
    "prb": ["PRB", "Partai Rakyat Bersatu", "Rakyat Bersatu"],
    "kpd": ["Kartu Pangan Digital", "KPD", "Kartu Pangan"],
    "listrik": ["subsidi listrik", "Reformasi Subsidi Listrik", "tarif listrik"],
    # English-side names
    "raka_en": ["Raka Wibisana", "Wibisana", "Raka"],
    "sari_en": ["Sari Lestari", "Lestari", "Sari Lestari"],
    "bima_en": ["Bima Hartono", "Hartono"],
    "pnm_en": ["the Nusantara Maju Party", "PNM", "Partai Nusantara Maju"],
    "prb_en": ["PRB", "Partai Rakyat Bersatu", "the United People's Party"],
    "kpd_en": ["Kartu Pangan Digital", "digital food card", "KPD", "food card programme"],
    "listrik_en": ["the electricity subsidy reform", "the power subsidy", "electricity subsidy changes"],
}

# small fillers for the non-political posts
FILLERS = {
    "kota": [
        "Depok",
        "Bekasi",
        "Bandung",
        "Jogja",
        "Surabaya",
        "Medan",
        "Makassar",
        "Semarang",
        "Bogor",
        "Malang",
        "Tangerang",
        "Palembang",
        "Denpasar",
        "Balikpapan",
    ],
    "jalan": [
        "tol dalam kota arah Cawang",
        "Jl. Sudirman arah Senayan",
        "Jl. Gatot Subroto",
        "Pasteur",
        "Jl. Ahmad Yani",
        "Margonda",
        "tol Jagorawi",
        "flyover Pasar Rebo",
        "Jl. Gajah Mada",
    ],
    "stasiun": ["Manggarai", "Tanah Abang", "Bogor", "Depok Baru", "Sudirman", "Cikarang", "Blok M"],
    "makanan": [
        "martabak manis",
        "nasi goreng",
        "bakso",
        "seblak",
        "soto ayam",
        "mie ayam",
        "sate padang",
        "pecel lele",
    ],
    "skor": ["2-0", "1-0", "3-1", "2-1"],
    "posisi": ["bek kiri", "kiper", "gelandang bertahan", "striker"],
    "posisi_en": ["left back", "goalkeeper", "holding midfield", "striker"],
    "bidang": ["desain", "data", "penulisan", "customer service", "akuntansi"],
    "jam": ["pagi", "siang", "jam 3", "abis maghrib"],
    "harga": ["70", "80", "85", "90"],
    "n": ["10", "15", "20", "25", "30", "40"],
    "n2": ["2", "3", "4"],
}
PREFIX = {
    "id": ["", "", "", "", "Btw ", "Duh, ", "Hmm, ", "Fyi ", "Wkwk ", "Jujur ya, "],
    "en": ["", "", "", "", "Honestly, ", "PSA: ", "Ok so ", "Reminder: "],
}
SUFFIX = {"id": ["", "", "", "", " {emo}", " sih", " 🙏", " deh"], "en": ["", "", "", "", " {emo}", " lol"]}

EMOJI = ["😂", "🙏", "🔥", "😤", "👏", "🤔", "😅", "💪", "😡", "🙄", "👀", "❤️", "😭", "🇮🇩"]
MENTIONS = [
    "@jurnalis_fiktif",
    "@berita_nusantara_fiktif",
    "@sea_politics_desk",
    "@cek_fakta_fiktif",
    "@kopi_pagi_fiktif",
]
LINK_SLUGS = [
    "analisis-program-capres",
    "survei-elektabilitas-november",
    "jadwal-debat-capres",
    "tarif-listrik-2027",
    "kartu-pangan-digital-tahap-3",
    "koalisi-pnm-prb",
    "profil-cawapres",
    "harga-beras-naik",
]


def link(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return f"https://news.example.id/2026/11/20/{rng.choice(LINK_SLUGS)}"
    return f"https://example.com/{rng.choice(['read', 'p', 'opini'])}/{rng.randint(1000, 9999)}"


# --------------------------------------------------------------------------------------------
# Background templates: (lang, sentiment, text). Placeholders: {raka} {sari} {bima} {pnm} {prb}
# {kpd} {listrik} (and *_en), {emo}, {at} (a mention), {link}.
BACKGROUND = {
    "raka": [
        (
            "id",
            "pos",
            "{raka} dateng ke pasar tadi sore, ngobrol sama pedagang tanpa protokoler ribet. Respect {emo}",
        ),
        ("id", "pos", "Program UMKM {raka} masuk akal sih, bunga KUR diturunin. #RakaWibisana"),
        (
            "id",
            "pos",
            "Udah mantap pilih {raka}, konsisten dari dulu soal pendidikan gratis 💪 #RakaPresiden",
        ),
        (
            "id",
            "neg",
            "{raka} janji lapangan kerja terus, tapi angkanya gak pernah dijelasin. Hitungannya mana?",
        ),
        ("id", "neg", "Jujur makin ragu sama {raka}, timnya sibuk serang lawan doang {emo}"),
        ("id", "neg", "Kampanye {raka} di GOR bikin macet parah, gak mikirin warga sekitar bgt"),
        ("id", "neu", "Ada yg tau jadwal kampanye {raka} minggu depan di Jateng? {at}"),
        ("id", "neu", "Rangkuman visi misi {raka} buat yg males baca dokumennya: {link}"),
        ("en", "pos", "{raka_en}'s education plan is the most detailed of the three, honestly. {link}"),
        ("en", "neg", "{raka_en} keeps promising jobs but his team still hasn't published the numbers."),
        ("en", "neu", "{raka_en} campaigns in Central Java this weekend, per his team. #RakaWibisana"),
    ],
    "sari": [
        ("id", "pos", "{sari} paling tenang kalau ditanya soal kesehatan, jawabannya runtut. #SariLestari"),
        ("id", "pos", "Suka cara {sari} ngomongin guru honorer, akhirnya ada yg peduli {emo}"),
        ("id", "neg", "{sari} terlalu normatif, gak ada terobosan yg konkret menurutku"),
        ("id", "neg", "Tim medsos {sari} kebanyakan gimmick, substansinya kurang"),
        ("id", "neu", "Nanti malem {sari} dapet giliran pertama atau terakhir di debat? #DebatCapres"),
        ("id", "neu", "Profil singkat {sari}: mantan wali kota, dua periode. {link}"),
        (
            "en",
            "pos",
            "{sari_en} sounds like the only candidate with an actual healthcare plan. #SariLestari",
        ),
        ("en", "neg", "Not convinced by {sari_en}'s fiscal numbers, they don't add up to me."),
        (
            "en",
            "neu",
            "{sari_en} will speak on health and education tonight, according to the debate format. {link}",
        ),
    ],
    "bima": [
        ("id", "pos", "{bima} turun ke sawah lagi, dia emang paham petani {emo}"),
        ("id", "pos", "Program pupuk murah {bima} ditunggu banget di kampung saya #BimaHartono"),
        ("id", "neg", "{bima} jawabannya muter-muter kalau ditanya soal utang BUMN"),
        ("id", "neg", "Gak ngerti kenapa {bima} gak pernah mau diwawancara media independen {emo}"),
        ("id", "neu", "{bima} dijadwalkan hadir di forum petani Karawang besok pagi"),
        ("en", "pos", "{bima_en}'s farm programme is popular in rural West Java, from what I hear."),
        ("en", "neg", "{bima_en} dodged the question on state-owned enterprise debt again."),
        ("en", "neu", "{bima_en} is polling third in most surveys this month. {link}"),
    ],
    "pnm": [
        ("id", "neu", "{pnm} umumin daftar caleg tambahan hari ini {link}"),
        ("id", "neg", "Baliho {pnm} di jalan protokol udah kebanyakan, ngalangin rambu {emo}"),
        ("id", "pos", "Salut sama kader muda {pnm} yg bikin posko banjir di Bekasi"),
        ("en", "neu", "{pnm_en} confirmed its support for {raka_en} at a rally this afternoon."),
        ("en", "neg", "{pnm_en}'s billboards are everywhere and nobody asked for them."),
    ],
    "prb": [
        ("id", "neu", "{prb} gelar konsolidasi di Surabaya, katanya buat menangin {sari}"),
        ("id", "neg", "Kader {prb} di DPRD kemarin walk out pas rapat anggaran, aneh"),
        ("id", "pos", "Program beasiswa {prb} beneran jalan, sepupu saya dapet {emo}"),
        ("en", "neu", "{prb_en} says coalition talks with smaller parties are 'almost done'. {link}"),
    ],
    "kpd": [
        ("id", "pos", "Alhamdulillah {kpd} tahap 3 udah cair, lumayan buat belanja beras {emo}"),
        ("id", "neu", "Cara cek status penerima {kpd} lewat aplikasi: {link}"),
        ("id", "neg", "{kpd} di RT saya kok yg dapet malah yg rumahnya gedong ya 🙄"),
        ("id", "neu", "Ada yg {kpd}-nya belum aktif juga? Udah 2 minggu nih @humas_kpd_resmi"),
        ("en", "neu", "Explainer: how the {kpd_en} works and who qualifies. {link}"),
        ("en", "pos", "The {kpd_en} payments arrived on time this month, credit where it's due."),
    ],
    "listrik": [
        ("id", "neg", "Katanya {listrik} tepat sasaran, tapi token saya naik terus {emo}"),
        ("id", "neg", "{listrik} ini bakal bikin UMKM makin susah, warung saya pake kulkas 3"),
        ("id", "neu", "Simulasi {listrik} buat rumah 900 VA, ada di sini: {link}"),
        ("id", "pos", "Sebenernya {listrik} masuk akal kalau yg mampu bayar lebih. Yg penting transparan"),
        (
            "en",
            "neg",
            "{listrik_en} will hit small businesses hardest, and nobody in the campaign talks about it.",
        ),
        ("en", "neu", "What {listrik_en} means for households on 900 VA connections: {link}"),
    ],
    "debate_pre": [
        ("id", "neu", "Nanti malem jam 8 debat capres, siapin kopi ☕ #DebatCapres"),
        ("id", "neu", "Debat capres malam ini temanya kesejahteraan sosial. Nonton di mana? #DebatCapres"),
        (
            "id",
            "neu",
            "Prediksi: {raka} menang di ekonomi, {sari} di kesehatan, {bima} di pertanian #DebatCapres",
        ),
        ("id", "neg", "Debat cuma ajang hafalan, gak bakal ngubah pilihan orang #DebatCapres"),
        (
            "en",
            "neu",
            "Third presidential debate tonight, 8pm Jakarta time. Watching with friends. #DebatCapres",
        ),
        ("en", "neu", "Debate fact-check thread starting soon, follow {at} #DebatCapres"),
    ],
    "debate_live": [
        ("id", "pos", "{raka} lumayan di segmen pertama, datanya lengkap #DebatCapres"),
        ("id", "neg", "{bima} gugup banget tadi, baca contekan mulu #DebatCapres"),
        ("id", "neu", "Segmen tanya jawab antar capres mulai #DebatCapres"),
        ("id", "neg", "{raka} ditanya soal {kpd} malah ngeles {emo} #DebatCapres"),
        ("id", "neu", "Moderatornya tegas juga, waktu habis langsung dipotong 😂 #DebatCapres"),
        ("en", "neu", "Segment two of #DebatCapres: food security and the {kpd_en}."),
        ("en", "neg", "{raka_en} did not answer the question about the data leak. #DebatCapres"),
        ("en", "pos", "{bima_en} had a decent answer on fertiliser prices. #DebatCapres"),
    ],
    "other": [
        ("id", "neu", "Hujan deres banget di {kota}, hati-hati yg lagi di jalan {emo}"),
        ("id", "neu", "Macet total di {jalan}, mending cari jalan lain @info_lalin_fiktif"),
        ("id", "neg", "KRL gangguan lagi, udah {n} menit nunggu di {stasiun} 😤"),
        ("id", "pos", "Timnas menang {skor}! Gol kedua cakep banget 🔥 #TimnasDay"),
        ("id", "neu", "Line up timnas malam ini udah keluar, {posisi} diganti #TimnasDay"),
        ("id", "pos", "{makanan} deket kosan akhirnya buka lagi, bahagia sesederhana itu {emo}"),
        ("id", "neu", "Ada rekomendasi bengkel motor yg jujur di daerah {kota}?"),
        ("id", "neg", "Harga cabe di pasar naik lagi, {harga} ribu sekilo. Gimana mau masak 😭"),
        (
            "id",
            "neu",
            "Besok ada pemadaman air PDAM di sebagian {kota}, nyetok dulu ya https://example.com/info/pdam-{kota}",
        ),
        ("id", "pos", "Langit sore ini di {kota} bagus banget 🌅"),
        ("id", "neu", "Lagi nyari kerja remote di bidang {bidang}, ada info lowongan? DM ya"),
        ("id", "neg", "Sinyal di rumah jelek banget dari {jam}, mau kerja jadi susah"),
        ("id", "pos", "Akhirnya skripsi di-ACC dosen pembimbing!!! 😭🙏"),
        (
            "id",
            "neu",
            "BMKG: potensi hujan lebat disertai petir di {kota} malam ini https://news.example.id/2026/11/20/peringatan-cuaca",
        ),
        ("id", "neu", "Genangan {n} cm di {jalan}, kendaraan kecil hati-hati @info_lalin_fiktif"),
        ("id", "neg", "Ojol cancel {n2} kali berturut-turut, pulang jam berapa ini 😩"),
        ("id", "pos", "Hari ini gajian, traktir {makanan} ah {emo}"),
        ("id", "neu", "Yg nonton timnas di mana nih? Nobar di {kota} rame gak? #TimnasDay"),
        ("en", "neu", "Heavy rain in {kota} again, traffic on {jalan} is not moving at all."),
        ("en", "pos", "Indonesia {skor}! What a second goal 🔥 #TimnasDay"),
        ("en", "neu", "Anyone know a good coworking space in {kota} with decent wifi?"),
        ("en", "neg", "Flight to {kota} delayed {n2} hours, great start to the weekend."),
        ("en", "pos", "Best {makanan} I've had in months, tiny stall near {stasiun}."),
        (
            "en",
            "neu",
            "Weather service warns of thunderstorms across {kota} tonight. https://news.example.id/2026/11/20/peringatan-cuaca",
        ),
        ("en", "neg", "Commuter line delayed again at {stasiun}, {n} minutes and counting."),
        (
            "en",
            "neu",
            "Team sheet is out for tonight's national team match: change at {posisi_en}. #TimnasDay",
        ),
        ("en", "pos", "Payday. Treating myself to {makanan} tonight {emo}"),
    ],
}
# share of background posts per topic before / during / after the debate (13:00 UTC = 20:00 WIB)
TOPIC_WEIGHTS = {
    "raka": 14,
    "sari": 11,
    "bima": 9,
    "pnm": 6,
    "prb": 6,
    "kpd": 5,
    "listrik": 7,
    "debate_pre": 6,
    "other": 38,
}

REPLY_TEXTS = [
    ("id", "neu", "Sumbernya dari mana ya?"),
    ("id", "pos", "Setuju banget"),
    ("id", "neg", "Gak gitu juga kali"),
    ("id", "neu", "Nah ini yg aku cari, makasih"),
    ("id", "neg", "Hoaks ini, cek dulu sebelum share"),
    ("id", "pos", "Mantap, sepakat {emo}"),
    ("id", "neu", "Kok beda sama yg kemarin ya?"),
    ("en", "neu", "Source?"),
    ("en", "pos", "Exactly this."),
    ("en", "neg", "That's not what the data says though."),
    ("en", "neu", "Interesting, thanks for sharing."),
]

# --------------------------------------------------------------------------------------------
# The #KPDBocor wave: composed from fragments so that ~170 posts all read differently.
KPD_OPEN_ID = [
    "Gila.",
    "Astaga,",
    "Serius nih?",
    "Parah.",
    "Baru baca:",
    "Ya ampun,",
    "Waduh.",
    "Breaking buat yg belum tau:",
    "Gak habis pikir,",
    "Lagi-lagi.",
    "Hah??",
    "",
]
KPD_CORE_ID = [
    "data penerima {kpd} bocor",
    "NIK sama alamat penerima {kpd} kesebar di forum",
    "jutaan data penerima {kpd} dijual bebas",
    "data {kpd} bocor, termasuk nomor HP penerima",
    "database {kpd} bocor dan dijual murah di forum gelap",
    "nama, NIK, alamat penerima {kpd} bisa diunduh siapa aja",
    "katanya aman, ternyata data penerima {kpd} bocor juga",
    "data ibu saya penerima {kpd} ikut kesebar",
    "aplikasi {kpd} dari awal udah keliatan gak aman, sekarang bocor",
]
KPD_CLOSE_ID = [
    "Siapa yg tanggung jawab?",
    "Pemerintah harus jelasin sekarang!",
    "Ini bahaya banget buat warga kecil.",
    "Udah gak percaya lagi.",
    "Menterinya mundur aja.",
    "Cek data kalian masing-masing ya.",
    "Hati-hati penipuan atas nama bansos habis ini.",
    "Malu-maluin.",
    "Kapan belajar sih?",
    "{raka} katanya program andalan, gimana nih?",
    "Ini program yg dibanggain {raka} kan?",
    "Rakyat kecil lagi yg jadi korban.",
    "Tolong jangan diem aja @humas_kpd_resmi",
]
KPD_TAGS_ID = [
    "#KPDBocor",
    "#KPDBocor",
    "#KPDBocor #KartuPanganDigital",
    "#KPDBocor #DataBocor",
    "#KPDBocor #UsutTuntas",
    "#KPDBocor 😡",
    "#KPDBocor #KPD",
]
KPD_EN = [
    "Reports say recipient data from the {kpd_en} has leaked, names, ID numbers and addresses. #KPDBocor",
    "Millions of {kpd_en} recipients' records allegedly for sale online. Who is accountable? #KPDBocor",
    "If the {kpd_en} leak is confirmed, it's one of the largest welfare data breaches in the region. #KPDBocor",
    "The {kpd_en} leak is exactly what privacy advocates warned about last year. #KPDBocor",
    "So the flagship {kpd_en} just leaked its entire recipient list? Wow. #KPDBocor",
    "Welfare recipients are the least able to deal with identity fraud. The {kpd_en} leak is serious. #KPDBocor",
    "Awful news about the {kpd_en}. Recipients should watch out for phishing calls. #KPDBocor",
    "{raka_en} championed the {kpd_en}; this leak will follow him into tonight's debate. #KPDBocor",
    "Data leak at the {kpd_en}: the ministry has been silent for half an hour now. #KPDBocor",
]
KPD_NEUTRAL = [
    ("id", "Tunggu klarifikasi resmi dulu, jangan asal sebar. #KPDBocor"),
    ("id", "Ada yg udah verifikasi sampel data {kpd} yg beredar? #KPDBocor @cek_fakta_fiktif"),
    ("id", "Kronologi dugaan kebocoran data {kpd} sejauh ini: {link} #KPDBocor"),
    ("id", "Katanya itu data uji, bukan data asli penerima {kpd}. Ada yg tau? #KPDBocor"),
    ("en", "Still unverified: we have not seen the {kpd_en} sample files ourselves. #KPDBocor"),
    ("en", "Timeline of the alleged {kpd_en} leak so far: {link} #KPDBocor"),
]
KPD_DEFEND = [
    ("id", "Belum tentu bocor dari sistem {kpd}, bisa aja dari pihak ketiga. Sabar dulu. #KPDBocor"),
    ("id", "Jangan langsung salahin {raka}, tunggu investigasi. #KPDBocor"),
]
# how many wave posts per minute from 12:30 (10 minutes of wave, then 15 of decay)
KPD_WAVE = [4, 9, 13, 15, 16, 15, 14, 13, 11, 10]
KPD_DECAY = [8, 7, 6, 5, 5, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1]

# --------------------------------------------------------------------------------------------
# After the debate: positive wave about Sari Lestari, 13:40-13:50.
SARI_ID = [
    "Closing statement {sari} bikin merinding, jelas dan jujur {emo} #DebatCapres",
    "{sari} menang debat malam ini, gak ada yg bisa bantah #DebatCapres",
    "Fix pilih {sari}. Jawaban soal data warga paling masuk akal #DebatCapres #SariLestari",
    "{sari} satu-satunya yg ngomongin perlindungan data abis #KPDBocor. Keren #DebatCapres",
    "Tenang, runtut, gak nyerang pribadi. {sari} juara malam ini 👏 #DebatCapres",
    "Baru kali ini nonton debat sampai habis, gara-gara {sari} #DebatCapres",
    "Emak saya yg biasanya cuek bilang {sari} bagus banget tadi 😂 #DebatCapres",
    "Penutup {sari} soal guru honorer bikin nangis jujur 😭 #DebatCapres",
    "{sari} jawab pertanyaan kesehatan pake data, bukan janji #DebatCapres #SariPresiden",
    "Skor debat malam ini: {sari} 9, yg lain 6 #DebatCapres",
    "Yg tadinya golput kayaknya mulai mikir lagi setelah liat {sari} #DebatCapres",
    "Kalimat terakhir {sari} tadi pantes jadi poster kampanye {emo} #DebatCapres",
]
SARI_EN = [
    "{sari_en} clearly won tonight's debate. Calm, specific, no personal attacks. #DebatCapres",
    "That closing statement from {sari_en} was the best moment of the campaign so far. #DebatCapres",
    "{sari_en} was the only one with a real answer on data protection. #DebatCapres",
    "Snap verdict: {sari_en} wins the third debate comfortably. #DebatCapres",
    "Even her critics will admit {sari_en} was strong tonight. #DebatCapres",
    "Didn't expect to be moved by a debate closing statement, but {sari_en} managed it. #DebatCapres",
    "{sari_en} answered the data leak question better than the man whose programme it was. #DebatCapres #KPDBocor",
    "Whatever your politics, {sari_en} showed up prepared tonight. #DebatCapres",
]
SARI_WAVE = [2, 4, 6, 7, 7, 6, 6, 5, 4, 3]

# --------------------------------------------------------------------------------------------
# Buzzer pattern, 13:10-13:13: one script, small edits, 15 fresh accounts.
BUZZ_BASE = "{bima} satu-satunya {capres} yg punya program nyata buat petani{punct} {tags}"
BUZZ_NAMES = ["Pak Bima Hartono", "Pak Bima", "Bima Hartono", "pak Bima Hartono"]
BUZZ_CAPRES = ["capres", "calon presiden", "capres", "capres"]
BUZZ_PUNCT = ["!", "!!", "!!!", ". 🌾", "! 🇮🇩", "!"]
BUZZ_TAGS = [
    "#BimaHartono #PilihBima",
    "#BimaHartono #PilihBima",
    "#PilihBima #BimaHartono",
    "#BimaHartono",
    "#BimaHartono #PilihBima 💪",
]


# --------------------------------------------------------------------------------------------
class Authors:
    """Handle pool with stable numeric ids; ids are handed out in order of creation."""

    PREFIXES = [
        "warga",
        "wong",
        "arek",
        "urang",
        "anak",
        "mas",
        "mbak",
        "bang",
        "kang",
        "teh",
        "om",
        "tante",
        "pakde",
        "bude",
        "emak",
        "pemuda",
        "mahasiswi",
        "ojol",
        "guru",
        "petani",
        "kopi",
        "senja",
        "kucing",
        "netizen",
        "budak",
        "nona",
    ]
    PLACES = [
        "bandung",
        "jogja",
        "solo",
        "medan",
        "makassar",
        "surabaya",
        "depok",
        "bekasi",
        "bogor",
        "malang",
        "semarang",
        "padang",
        "pontianak",
        "balikpapan",
        "manado",
        "denpasar",
        "palembang",
        "cirebon",
        "garut",
        "tangsel",
        "kupang",
        "ambon",
        "jember",
        "tegal",
    ]
    EN_WORDS = [
        "observer",
        "notes",
        "watcher",
        "reader",
        "desk",
        "policy",
        "expat",
        "traveller",
        "analyst",
        "student",
    ]
    EN_PLACES = ["jkt", "jakarta", "sea", "asia", "bali", "java", "id"]

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.ids: dict[str, str] = {}
        self.next_id = 1402000000 + rng.randint(0, 99999)

    def get(self, handle: str) -> dict:
        if handle not in self.ids:
            self.next_id += self.rng.randint(1, 90000)
            self.ids[handle] = str(self.next_id)
        return {"id": self.ids[handle], "handle": handle}

    def make_id_handle(self) -> str:
        r = self.rng
        while True:
            h = f"{r.choice(self.PREFIXES)}_{r.choice(self.PLACES)}"
            h += r.choice(["", f"_{r.randint(1, 99)}", f"{r.randint(70, 99)}", f"_{r.randint(100, 999)}"])
            if h not in self.ids:
                return h

    def make_en_handle(self) -> str:
        r = self.rng
        while True:
            h = f"{r.choice(self.EN_PLACES)}_{r.choice(self.EN_WORDS)}{r.choice(['', str(r.randint(1, 99))])}"
            if h not in self.ids:
                return h


NAMED = {  # fixed, recurring accounts
    "jurnalis_fiktif": "id",
    "berita_nusantara_fiktif": "id",
    "sea_politics_desk": "en",
    "cek_fakta_fiktif": "id",
    "humas_kpd_resmi": "id",
    "info_lalin_fiktif": "id",
    "kopi_pagi_fiktif": "id",
    "relawan_raka_fiktif": "id",
    "relawan_sari_fiktif": "id",
}


def fill(template: str, rng: random.Random) -> str:
    out = template
    for key in sorted(ALIASES, key=len, reverse=True):  # *_en before the short keys
        while "{" + key + "}" in out:
            out = out.replace("{" + key + "}", rng.choice(ALIASES[key]), 1)
    while "{emo}" in out:
        out = out.replace("{emo}", rng.choice(EMOJI), 1)
    while "{at}" in out:
        out = out.replace("{at}", rng.choice(MENTIONS), 1)
    while "{link}" in out:
        out = out.replace("{link}", link(rng), 1)
    for key, values in FILLERS.items():
        while "{" + key + "}" in out:
            out = out.replace("{" + key + "}", rng.choice(values), 1)
    out = " ".join(out.split())
    return out[:1].upper() + out[1:]


def at(minute: float, rng: random.Random, spread: float = 60.0) -> datetime:
    return START + timedelta(seconds=minute * 60 + rng.uniform(0, spread))


def build() -> tuple[list[dict], list[tuple[str, str]]]:
    rng = random.Random(SEED)
    authors = Authors(rng)
    id_pool = [authors.make_id_handle() for _ in range(330)]
    en_pool = [authors.make_en_handle() for _ in range(60)]
    for h in NAMED:
        authors.get(h)
    for h in id_pool + en_pool:
        authors.get(h)
    # a few chatty accounts post often in the background
    chatty_id, chatty_en = id_pool[:25], en_pool[:8]

    posts: list[dict] = []  # drafts: t, handle, text, lang, sentiment, kind, ref (topic for refs)
    seen_texts: set[str] = set()

    def add(t, handle, text, lang, sent, topic, ref=None, engagement=1.0):
        posts.append(
            {
                "t": t,
                "handle": handle,
                "text": text,
                "lang": lang,
                "sent": sent,
                "topic": topic,
                "ref": ref,
                "eng": engagement,
            }
        )

    def unique(make):
        for _ in range(40):
            text = make()
            if text not in seen_texts:
                seen_texts.add(text)
                return text
        return text

    def bg_author(lang):
        if lang == "en":
            return rng.choice(chatty_en) if rng.random() < 0.35 else rng.choice(en_pool)
        return rng.choice(chatty_id) if rng.random() < 0.35 else rng.choice(id_pool)

    # ---- background: ~2 posts a minute over three hours ------------------------------------
    for minute in range(MINUTES):
        n = rng.choices([0, 1, 2, 3, 4], weights=[10, 30, 33, 20, 7])[0]
        weights = dict(TOPIC_WEIGHTS)
        if 120 <= minute < 160:  # debate on air 13:00-13:40 UTC
            weights["debate_live"], weights["debate_pre"] = 14, 0
        elif minute >= 160:
            weights["debate_pre"] = 0
        if minute >= 90:  # after the leak the steady KPD chatter is about the leak, not payouts
            weights["kpd"] = 0
        topics = list(weights)
        for _ in range(n):
            topic = rng.choices(topics, weights=[weights[k] for k in topics])[0]
            r = rng.random()
            if r < 0.10 and posts:
                kind = "reply"
            elif r < 0.14 and posts:
                kind = "quote"
            elif r < 0.18 and posts:
                kind = "repost"
            else:
                kind = "post"
            want = "en" if rng.random() < 0.33 else "id"
            choices = REPLY_TEXTS if kind == "reply" else BACKGROUND[topic]
            choices = [c for c in choices if c[0] == want] or choices
            picked = []

            def make():
                lang, sent, tpl = rng.choice(choices)
                if kind != "reply" and rng.random() < 0.3:
                    prefix = rng.choice(PREFIX[lang])
                    if prefix and tpl[1:2].islower():  # "Btw ada yg tau", but keep "KRL"
                        tpl = tpl[0].lower() + tpl[1:]
                    tpl = prefix + tpl + rng.choice(SUFFIX[lang])
                picked[:] = [lang, sent]
                return fill(tpl, rng)

            text = unique(make)
            lang, sent = picked
            add(at(minute, rng), bg_author(lang), text, lang, sent, topic, ref=kind)

    # ---- 12:30 the #KPDBocor wave -----------------------------------------------------------
    wave_start = 90
    add(
        START + timedelta(minutes=wave_start, seconds=8),
        "jurnalis_fiktif",
        "BREAKING: Data sekitar 2 juta penerima Kartu Pangan Digital diduga bocor dan dijual di forum "
        "daring. Tim kami sedang verifikasi sampelnya. https://news.example.id/2026/11/20/data-kpd-bocor #KPDBocor",
        "id",
        "neg",
        "kpd_leak",
        ref="origin",
        engagement=40,
    )
    add(
        START + timedelta(minutes=wave_start + 2, seconds=41),
        "sea_politics_desk",
        "Indonesia: recipient data of the Kartu Pangan Digital (digital food card) programme allegedly leaked, "
        "about 2 million records. Developing. https://example.com/asia/kpd-leak #KPDBocor",
        "en",
        "neg",
        "kpd_leak",
        ref="origin_en",
        engagement=15,
    )
    add(
        START + timedelta(minutes=wave_start + 17, seconds=12),
        "humas_kpd_resmi",
        "Klarifikasi: Kami sedang menelusuri dugaan kebocoran data Kartu Pangan Digital bersama tim siber. "
        "Penerima diimbau tidak memberikan kode OTP kepada siapa pun. #KPDBocor",
        "id",
        "neu",
        "kpd_leak",
        ref="clarify",
        engagement=12,
    )

    def kpd_text(lang: str) -> tuple[str, str]:
        r = rng.random()
        if r < 0.08:
            lang, tpl = rng.choice(KPD_NEUTRAL)
            return lang, "neu", fill(tpl, rng)
        if r < 0.11:
            lang, tpl = rng.choice(KPD_DEFEND)
            return lang, "pos", fill(tpl, rng)
        if lang == "en":
            return "en", "neg", fill(rng.choice(KPD_EN), rng)
        opener, core = rng.choice(KPD_OPEN_ID), rng.choice(KPD_CORE_ID)
        if not opener or opener.endswith((".", "?", "!")):
            core = core[0].upper() + core[1:]
        text = f"{opener} {core}".strip() + rng.choice([".", "!", "!!", "??", "..."])
        text += " " + rng.choice(KPD_CLOSE_ID)
        if rng.random() < 0.15:
            text += " " + (
                link(rng) if rng.random() < 0.5 else "https://news.example.id/2026/11/20/data-kpd-bocor"
            )
        text += " " + rng.choice(KPD_TAGS_ID)
        return "id", "neg", fill(text, rng)

    wave_authors = rng.sample(id_pool, 150) + rng.sample(en_pool, 40)
    wa_id = [h for h in wave_authors if h in set(id_pool)]
    wa_en = [h for h in wave_authors if h in set(en_pool)]
    schedule = [(wave_start + i, n) for i, n in enumerate(KPD_WAVE)]
    schedule += [(wave_start + len(KPD_WAVE) + i, n) for i, n in enumerate(KPD_DECAY)]
    for minute, n in schedule:
        for _ in range(n):
            want = "en" if rng.random() < 0.22 else "id"
            holder = [None]

            def make():
                holder[0] = kpd_text(want)
                return holder[0][2]

            text = unique(make)
            lang, sent = holder[0][0], holder[0][1]
            pool = wa_en if lang == "en" else wa_id
            handle = pool.pop() if pool else bg_author(lang)
            r = rng.random()
            ref = (
                "reply_origin"
                if r < 0.12
                else "quote_origin"
                if r < 0.20
                else "repost_origin"
                if r < 0.30
                else None
            )
            if minute == wave_start and ref:
                ref = None
            if minute >= wave_start + 18 and r < 0.12:
                ref = "reply_clarify"
            t = at(minute, rng)
            if minute == wave_start:  # nobody reacts before the story breaks
                t = START + timedelta(minutes=wave_start, seconds=rng.uniform(15, 60))
            add(t, handle, text, lang, sent, "kpd_leak", ref=ref, engagement=3.0 if minute < 100 else 1.5)

    # ---- 13:10 buzzer pattern ----------------------------------------------------------------
    buzzers = [f"suara_tani_{rng.randint(1000, 9999)}" for _ in range(15)]
    for i, handle in enumerate(buzzers):
        t = START + timedelta(minutes=130, seconds=i * 11 + rng.uniform(0, 9))
        text = BUZZ_BASE.format(
            bima=rng.choice(BUZZ_NAMES),
            capres=rng.choice(BUZZ_CAPRES),
            punct=rng.choice(BUZZ_PUNCT),
            tags=rng.choice(BUZZ_TAGS),
        )
        add(t, handle, text, "id", "pos", "buzz", engagement=0.2)

    # ---- 13:40 positive debate wave about Sari Lestari ----------------------------------------
    sari_authors = rng.sample(id_pool, 45) + rng.sample(en_pool, 15) + ["relawan_sari_fiktif"]
    rng.shuffle(sari_authors)
    for i, n in enumerate(SARI_WAVE):
        for _ in range(n):
            lang = "en" if rng.random() < 0.25 else "id"
            text = unique(lambda: fill(rng.choice(SARI_EN if lang == "en" else SARI_ID), rng))
            pick = [h for h in sari_authors if (h in en_pool) == (lang == "en")]
            handle = pick[0] if pick else bg_author(lang)
            if handle in sari_authors:
                sari_authors.remove(handle)
            add(at(160 + i, rng), handle, text, lang, "pos", "sari_debate", engagement=2.0)
    return finalize(posts, authors, rng)


# The planted happenings, the truth of the issue evaluation: the drafts' topic -> (event, name,
# minutes after START the happening begins, keywords). Every other topic is background ("").
EVENTS = {
    "kpd_leak": (
        "kpd_leak",
        "Kartu Pangan Digital data leak (#KPDBocor)",
        90,
        ("#KPDBocor", "Kartu Pangan Digital", "KPD", "bocor", "data", "leak"),
    ),
    "buzz": (
        "bima_buzzer",
        "Copy-paste praise of Bima Hartono (buzzer accounts)",
        130,
        ("Bima Hartono", "Bima", "#BimaHartono", "#PilihBima"),
    ),
    "sari_debate": (
        "sari_debate",
        "Sari Lestari praised after the debate (#DebatCapres)",
        160,
        ("#DebatCapres", "Sari Lestari", "Sari", "debat", "debate"),
    ),
}


def finalize(
    drafts: list[dict], authors: Authors, rng: random.Random
) -> tuple[list[dict], list[tuple[str, str]]]:
    drafts.sort(key=lambda d: d["t"])
    next_id = FIRST_ID
    out: list[dict] = []
    origin: dict[str, dict] = {}
    for d in drafts:
        next_id += rng.randint(4_000_000, 400_000_000) * 1000 + rng.randint(0, 999)
        d["id"] = str(next_id)
        ref = d["ref"]
        target = None
        reply_to = repost_of = quote_of = None
        text = d["text"]
        if ref in ("reply_origin", "quote_origin", "repost_origin", "reply_clarify"):
            target = origin[
                "clarify"
                if ref == "reply_clarify"
                else ("origin_en" if d["lang"] == "en" and "origin_en" in origin else "origin")
            ]
        elif ref in ("reply", "quote", "repost"):
            # reference a recent earlier post on the same topic, else any recent one
            recent = [p for p in out[-60:] if p["_topic"] == d["topic"] and not p.get("repost_of")]
            recent = recent or [p for p in out[-20:] if not p.get("repost_of")]
            target = rng.choice(recent) if recent else None
        kind = (ref or "").split("_")[0]
        if target is not None:
            if kind == "reply":
                reply_to = target["id"]
                text = f"@{target['author']['handle']} {text}"
            elif kind == "quote":
                quote_of = target["id"]
            elif kind == "repost":
                repost_of = target["id"]
                text = f"RT @{target['author']['handle']}: {target['text']}"
                d["lang"] = target["lang"]
        eng = d["eng"] * (0.1 if repost_of else 1.0)
        likes = int(rng.lognormvariate(1.3, 1.2) * eng)
        author = authors.get(d["handle"])
        post = {
            "platform": "x",
            "id": d["id"],
            "created_at": d["t"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "author": author,
            "text": text,
            "lang": d["lang"],
            "url": f"https://x.example/{author['handle']}/status/{d['id']}",
            "reply_to": reply_to,
            "repost_of": repost_of,
            "quote_of": quote_of,
            "metrics": {
                "likes": likes,
                "reposts": int(likes * rng.uniform(0.05, 0.4)),
                "replies": int(likes * rng.uniform(0.02, 0.2)),
                "quotes": int(likes * rng.uniform(0, 0.05)),
            },
            "_topic": d["topic"],
        }
        out.append(post)
        if ref in ("origin", "origin_en", "clarify"):
            origin[ref] = post

    # exercise defaults: some lines leave optional keys out
    for p in out:
        r = rng.random()
        if r < 0.06:
            p.pop("metrics")
        elif r < 0.10:
            p.pop("url")
        elif r < 0.14:
            p.pop("lang")
        if p["reply_to"] is None and p["repost_of"] is None and p["quote_of"] is None and rng.random() < 0.15:
            for k in ("reply_to", "repost_of", "quote_of"):
                p.pop(k)
    # make the breaking story's reply/repost/quote counts at least what the stream shows
    for p in out:
        if "metrics" in p:
            for key, field in (("reply_to", "replies"), ("repost_of", "reposts"), ("quote_of", "quotes")):
                n = sum(1 for q in out if q.get(key) == p["id"])
                p["metrics"][field] = max(p["metrics"][field], n)
    truth = []  # (post id as Pantau stores it, event or "")
    for p in out:
        topic = p.pop("_topic")
        truth.append((f"{p['platform']}:{p['id']}", EVENTS[topic][0] if topic in EVENTS else ""))
    return out, truth


def write_truth(truth: list[tuple[str, str]]) -> None:
    """truth.csv and events.csv next to posts.jsonl, in the format of detectors/issue_streams.py."""
    with TRUTH_OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["post_id", "event"])
        writer.writerows(truth)
    with EVENTS_OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["event", "name", "onset", "keywords"])
        for event, name, minutes, keywords in EVENTS.values():
            onset = (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow([event, name, onset, "|".join(keywords)])


def main() -> None:
    posts, truth = build()
    with OUT.open("w", encoding="utf-8") as fh:
        for p in posts:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    write_truth(truth)
    print(f"wrote {len(posts)} posts to {OUT}, their truth to {TRUTH_OUT.name} and {EVENTS_OUT.name}")


if __name__ == "__main__":
    main()
