# generated from vault/Building LLMs/Data Preparation for LLM Training.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import data_preparation` (the cells marked `export`).
# Run it: `python -m companions.data_preparation` runs the whole note.

# %% export note_line=59
import hashlib
import re
import time
import unicodedata
import urllib.parse
import urllib.request
import urllib.robotparser
from collections import Counter, deque
from html.parser import HTMLParser

import numpy as np
import torch
from torch.utils.data import Dataset

SKIP_TAGS = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript"}
BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "br",
    "tr",
    "pre",
}


class _TextAndLinks(HTMLParser):
    """Collects visible main text and outgoing links from one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.links, self._skip_depth = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self._skip_depth += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS and self._skip_depth:
            self._skip_depth -= 1
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip_depth:
            self.parts.append(data)


def extract_text(html):
    """Return (main text, list of hrefs) for an HTML string."""
    parser = _TextAndLinks()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line), parser.links


def crawl(
    start_url, max_pages=50, user_agent="llm-vault-bot", delay_s=0.0, timeout_s=5.0
):
    """Breadth-first crawl of one host that obeys robots.txt. Returns (pages,
    skipped_by_robots)."""
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(start_url))
    robots = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
    robots.read()
    seen, queue, pages, skipped = {start_url}, deque([start_url]), [], []
    while queue and len(pages) < max_pages:
        url = queue.popleft()
        if not robots.can_fetch(user_agent, url):
            skipped.append(url)
            continue
        request = urllib.request.Request(url, headers={"User-Agent": user_agent})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if "html" not in response.headers.get("Content-Type", ""):
                continue
            html = response.read().decode("utf-8", errors="replace")
        text, links = extract_text(html)
        pages.append({"url": url, "text": text})
        for href in links:
            nxt = urllib.parse.urljoin(url, href).split("#")[0]
            if nxt.startswith(origin) and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
        time.sleep(delay_s)
    return pages, skipped


# %% note_line=165
if __name__ == "__main__":
    import functools
    import http.server
    import tempfile
    import threading
    from pathlib import Path

    from runner.env import seed_everything, vault_notes

    seed_everything(0)

    ARTICLE_LIGHTHOUSE = (
        "The lighthouse on the northern cape was built in 1874 after a winter in which"
        " three cargo ships ran aground on the reef below the cliffs. Its first lamp burned"
        " whale oil and had to be trimmed every few hours by a keeper who lived in the"
        " small stone cottage at the base of the tower. In 1921 the oil lamp was replaced"
        " by an electric light, and the keeper's duties shifted from tending a flame to"
        " maintaining a generator and logging the weather. The station was automated in"
        " 1987, and the cottage is now a small museum where visitors can read the keepers'"
        " logbooks, which record storms, shipwrecks, and the slow arrival of radio"
        " navigation along this stretch of coast."
    )
    ARTICLE_BREAD = (
        "Sourdough bread rises because of a community of wild yeasts and lactic acid"
        " bacteria that live together in a starter of flour and water. The yeasts produce"
        " carbon dioxide, which inflates the dough, while the bacteria produce acids that"
        " give the loaf its sour taste and help it keep for longer. A baker feeds the"
        " starter regularly with fresh flour so that the microbes stay active. Because the"
        " process is slower than baking with commercial yeast, the dough has more time to"
        " develop flavour, and many bakers leave it in a cool place overnight before"
        " shaping and baking it in a very hot oven."
    )
    CHROME = (
        "<header><nav><a href='/index.html'>Home</a> | <a"
        " href='/bread.html'>Bread</a></nav></header><script>var tracking = 'should never"
        " reach the corpus';</script>"
    )
    FOOTER = "<footer>Copyright 2024 Example Coast Society. Accept all cookies?</footer>"
    SITE = {
        "robots.txt": "User-agent: *\nDisallow: /private/\n",
        "index.html": (
            f"<html><body>{CHROME}<main><h1>Coast notes</h1><p>Articles: <a"
            " href='lighthouse.html'>lighthouse</a>, <a href='bread.html'>bread</a>, <a"
            " href='lighthouse-print.html'>print view</a>, <a"
            f" href='private/members.html'>members</a>.</p></main>{FOOTER}</body></html>"
        ),
        "lighthouse.html": (
            f"<html><body>{CHROME}<main><h1>The"
            f" lighthouse</h1><p>{ARTICLE_LIGHTHOUSE}</p></main>{FOOTER}</body></html>"
        ),
        "lighthouse-print.html": (
            "<html><body><main><p>Printer-friendly"
            f" version.</p><p>{ARTICLE_LIGHTHOUSE}</p></main></body></html>"
        ),
        "bread.html": f"<html><body>{CHROME}<main><h1>Sourdough</h1><p>{ARTICLE_BREAD}"
        f"</p></main>{FOOTER}</body></html>",
        "private/members.html": (
            "<html><body><p>Members only: phone list and home addresses.</p></body></html>"
        ),
    }
    site_dir = Path(tempfile.mkdtemp(prefix="coast-site-"))
    for rel, content in SITE.items():
        (site_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (site_dir / rel).write_text(content, encoding="utf-8")


    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the notebook output clean
            pass


    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site_dir))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"

    crawled, robots_skipped = crawl(base_url + "/index.html", max_pages=20, delay_s=0.01)
    server.shutdown()
    server.server_close()
    for page in crawled:
        print(
            f"{page['url'].removeprefix(base_url):24s} {len(page['text'].split()):4d} words"
        )
    print("skipped by robots.txt:", [u.removeprefix(base_url) for u in robots_skipped])

    assert [u.removeprefix(base_url) for u in robots_skipped] == ["/private/members.html"]
    assert len(crawled) == 4
    assert all("tracking" not in p["text"] and "cookies" not in p["text"] for p in crawled)


# %% export note_line=269
def markdown_to_text(md):
    """Plain text of an Obsidian note: no frontmatter, code fences, callout markers or
    link syntax."""
    md = re.sub(r"\A---\n.*?\n---\n", "", md, flags=re.S)
    kept, in_fence = [], False
    for line in md.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if not in_fence:
            kept.append(line)
    text = "\n".join(kept)
    text = re.sub(
        r"\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|([^\]]+))?\]\]",
        lambda m: m.group(2) or m.group(1),
        text,
    )
    text = re.sub(r"^>\s?(?:\[![\w-]+\][-+]?\s*)?", "", text, flags=re.M)
    # '#' and '##' stay for splitting
    text = re.sub(r"^\s*(?:#{3,6}|[-*+]|\d+\.)\s+", "", text, flags=re.M)
    text = re.sub(r"\s\^[\w-]+$", "", text, flags=re.M)
    return text.replace("**", "").replace("`", "")


def note_documents(path):
    """One document per '## ' section of a note: list of (doc_id, text)."""
    text = markdown_to_text(path.read_text(encoding="utf-8", errors="replace"))
    text = re.sub(r"^# .*$", "", text, flags=re.M)  # the H1 title repeats the file name
    sections = re.split(r"^(?=## )", "## Introduction\n" + text, flags=re.M)
    docs = []
    for section in sections:
        if not section.strip():
            continue
        heading, _, body = section.partition("\n")
        docs.append((f"{path.stem} § {heading.lstrip('# ').strip()}", body.strip()))
    return docs


# %% note_line=308
if __name__ == "__main__":
    GOOD_RIVER = (
        "A river changes character along its length. Near the source the water is cold,"
        " fast and clear, and the insects that live there cling to stones so that they are"
        " not swept away. Further downstream the valley widens, the current slows, and fine"
        " sediment settles on the bed, which allows rooted plants to grow. These plants"
        " shelter young fish and provide food for snails and other grazers. When a dam"
        " interrupts the flow, the sediment that would have reached the lower river is"
        " trapped behind the wall instead, and the banks below can erode for many"
        " kilometres."
    )
    GOOD_PRINTING = (
        "Before movable type, books in Europe were copied by hand, and a single volume"
        " could take a scribe many months. Printing with reusable metal letters made it"
        " possible to produce hundreds of identical copies of a text in the time it had"
        " once taken to make one. The price of books fell, more people learned to read, and"
        " scholars in different cities could be sure that they were discussing the same"
        " words on the same page. Printers also began to standardise spelling and"
        " punctuation, because a consistent style made the work of setting type faster and"
        " less error-prone."
    )
    GOOD_WITH_PII = (
        "Dear support team, I am writing because my order has not arrived and the tracking"
        " page has not changed for a week. You can reach me at jane.doe@example.org or on"
        " (555) 014-2368 during the day. I paid with the card 4539 1488 0343 6467 and I can"
        " send a copy of the receipt if that would help. The package was supposed to be"
        " delivered to our office, and the router log shows that I last signed in to your"
        " website from 203.0.113.42 on Monday. Thank you for looking into this, and please"
        " let me know if there is anything else that you need from me."
    )
    SYNTHETIC = {
        "good/river": GOOD_RIVER,
        "good/printing": GOOD_PRINTING,
        "good/pii": GOOD_WITH_PII,
        "dup/river-exact": GOOD_RIVER,
        "dup/printing-reformatted": "  "
        + GOOD_PRINTING.lower().replace(". ", ".\n\n").replace(" the ", " the\u00a0")
        + "  ",
        "neardup/river-edited": GOOD_RIVER.replace(
            "cold, fast and clear", "cold, quick and clear"
        ).replace("many kilometres", "several kilometres")
        + " Posted by the river trust.",
        "bad/spam": "\n".join(
            [
                "BUY NOW!!! Limited time offer, click here to make money from home!!!",
                "Risk free, no obligation, act now and get your FREE OFFER $$$",
            ]
            * 6
        ),
        "bad/boilerplate": "\n".join(
            [
                "Home | About us | Products | Contact",
                "We use cookies to improve your experience.",
                "Accept all cookies",
                "Subscribe to our newsletter for updates",
                "Home | About us | Products | Contact",
                "Privacy policy | Terms of use",
            ]
            * 4
        ),
        "bad/german": (
            "Der Fluss verändert sich auf seinem Weg vom Gebirge bis zum Meer. In der Nähe"
            " der Quelle ist das Wasser kalt und schnell, und die Larven vieler Insekten"
            " halten sich an den Steinen fest, damit sie nicht fortgespült werden. Weiter"
            " unten wird das Tal breiter, die Strömung wird langsamer, und feiner Schlamm"
            " setzt sich am Grund ab, sodass Wasserpflanzen wurzeln können. Diese Pflanzen"
            " bieten jungen Fischen Schutz und liefern Nahrung für Schnecken."
        ),
        "bad/french": (
            "Avant l'invention de l'imprimerie, les livres étaient copiés à la main par des"
            " moines et des scribes, et un seul volume pouvait demander plusieurs mois de"
            " travail. Grâce aux caractères mobiles, un atelier pouvait produire des"
            " centaines d'exemplaires identiques d'un même texte. Le prix des livres a"
            " baissé, la lecture s'est répandue dans les villes, et les savants de"
            " différents pays pouvaient enfin discuter des mêmes mots sur la même page"
            " imprimée."
        ),
        "bad/symbols": " ".join(
            f"0x{i * 2654435761 % 4294967296:08x} {{}}; |=> ##" for i in range(40)
        ),
        "bad/too-short": "Click here to read more.",
    }

    corpus = []  # list of (doc_id, text)
    for path in vault_notes():
        corpus.extend(note_documents(path))
    n_vault_docs = len(corpus)
    corpus.extend((f"crawl:{p['url'].removeprefix(base_url)}", p["text"]) for p in crawled)
    corpus.extend((f"synthetic:{name}", text) for name, text in SYNTHETIC.items())

    print(f"vault notes: {len(vault_notes())}  ->  {n_vault_docs} section documents")
    print(f"crawled pages: {len(crawled)}   synthetic documents: {len(SYNTHETIC)}")
    print(f"corpus: {len(corpus)} documents, {sum(len(t) for _, t in corpus):,} characters")
    stage_counts = {"raw documents": len(corpus)}


# %% export note_line=411
STOP_WORDS = frozenset(
    "the a an and or but of to in on at for with by from as is are was were be been"
    " being it its this that these those he she they we you i not no can will would"
    " should do does did has have had there their which who what when where how than"
    " then so if into about over also more most such only other some any each".split()
)
SPAM_PHRASES = (
    "click here",
    "buy now",
    "free offer",
    "act now",
    "limited time",
    "make money",
    "risk free",
    "no obligation",
    "work from home",
    "100% guaranteed",
)
PLAIN_CHARS = set(".,;:!?'\"()-–—/%")

QUALITY_THRESHOLDS = {
    "min_words": 50,
    "max_words": 100_000,
    "mean_word_len": (3.0, 10.0),
    "min_alpha_word_frac": 0.8,
    "max_symbol_frac": 0.05,
    "max_dup_line_frac": 0.3,
    "max_top_bigram_frac": 0.2,
    "min_stop_word_frac": 0.12,
    "max_upper_frac": 0.35,
    "max_spam_hits": 2,
}


def quality_signals(text):
    """Cheap, model-free statistics of a document."""
    words = text.split()
    n = max(len(words), 1)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    letters = [c for c in text if c.isalpha()]
    alpha_tokens = re.findall(r"[^\W\d_]+", text.lower())
    bigrams = Counter(zip(words, words[1:]))
    top_bigram_chars = (
        (len(" ".join(bigrams.most_common(1)[0][0])) * bigrams.most_common(1)[0][1])
        if bigrams
        else 0
    )
    lower = text.lower()
    return {
        "n_words": len(words),
        "mean_word_len": sum(len(w) for w in words) / n,
        "alpha_word_frac": sum(any(c.isalpha() for c in w) for w in words) / n,
        "symbol_frac": sum(
            not (c.isalnum() or c.isspace() or c in PLAIN_CHARS) for c in text
        )
        / max(len(text), 1),
        "dup_line_frac": 1 - len(set(lines)) / len(lines) if lines else 0.0,
        "top_bigram_frac": top_bigram_chars / max(sum(len(w) for w in words), 1),
        "stop_word_frac": sum(t in STOP_WORDS for t in alpha_tokens)
        / max(len(alpha_tokens), 1),
        "upper_frac": sum(c.isupper() for c in letters) / max(len(letters), 1),
        "spam_hits": sum(phrase in lower for phrase in SPAM_PHRASES),
    }


def quality_failures(text, th=QUALITY_THRESHOLDS):
    """List of the rules a document breaks (empty list = keep)."""
    s = quality_signals(text)
    rules = [
        ("too_short", s["n_words"] < th["min_words"]),
        ("too_long", s["n_words"] > th["max_words"]),
        (
            "odd_word_length",
            not th["mean_word_len"][0] <= s["mean_word_len"] <= th["mean_word_len"][1],
        ),
        ("few_alpha_words", s["alpha_word_frac"] < th["min_alpha_word_frac"]),
        ("symbols", s["symbol_frac"] > th["max_symbol_frac"]),
        ("repeated_lines", s["dup_line_frac"] > th["max_dup_line_frac"]),
        ("repeated_bigram", s["top_bigram_frac"] > th["max_top_bigram_frac"]),
        ("not_english", s["stop_word_frac"] < th["min_stop_word_frac"]),
        ("shouting", s["upper_frac"] > th["max_upper_frac"]),
        ("spam", s["spam_hits"] > th["max_spam_hits"]),
    ]
    return [name for name, failed in rules if failed]


# %% note_line=498
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    failures = {doc_id: quality_failures(text) for doc_id, text in corpus}
    kept = [(d, t) for d, t in corpus if not failures[d]]
    first_reason = Counter(f[0] for f in failures.values() if f)
    print(f"kept {len(kept)} of {len(corpus)} documents; rejected by first failing rule:")
    for reason, count in first_reason.most_common():
        print(f"  {reason:16s} {count}")
    print("\nsynthetic documents:")
    for doc_id, fails in failures.items():
        if doc_id.startswith("synthetic:"):
            print(f"  {doc_id:36s} {'KEEP' if not fails else 'DROP ' + ', '.join(fails)}")

    expected_rule = {
        "bad/spam": "spam",
        "bad/boilerplate": "repeated_lines",
        "bad/german": "not_english",
        "bad/french": "not_english",
        "bad/symbols": "few_alpha_words",
        "bad/too-short": "too_short",
    }
    for name, rule in expected_rule.items():
        assert rule in failures[f"synthetic:{name}"], (name, failures[f"synthetic:{name}"])
    for name in SYNTHETIC:
        if not name.startswith("bad/"):
            assert not failures[f"synthetic:{name}"], (name, failures[f"synthetic:{name}"])
    assert all(
        not failures[f"crawl:{p['url'].removeprefix(base_url)}"]
        for p in crawled
        if "index" not in p["url"]
    )
    stage_counts["after quality filters"] = len(kept)

    stop = {d: quality_signals(t)["stop_word_frac"] for d, t in corpus}
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist([stop[d] for d, _ in kept], bins=20, range=(0, 0.6), alpha=0.7, label="kept")
    ax.hist(
        [stop[d] for d, _ in corpus if failures[d]],
        bins=20,
        range=(0, 0.6),
        alpha=0.7,
        label="rejected",
    )
    ax.axvline(
        QUALITY_THRESHOLDS["min_stop_word_frac"], color="k", ls="--", label="threshold"
    )
    ax.set_xlabel("share of tokens that are English stop words")
    ax.set_ylabel("documents")
    ax.legend()
    plt.tight_layout()
    plt.show()


# %% export note_line=565
def normalize_text(text):
    """Canonical form for exact-duplicate detection."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


def exact_dedup(docs):
    """Keep the first of each group of documents whose normalised text is identical.
    docs: list of (id, text)."""
    seen, unique, dropped = set(), [], []
    for doc_id, text in docs:
        digest = hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()
        (dropped if digest in seen else unique).append((doc_id, text))
        seen.add(digest)
    return unique, dropped


# %% note_line=582
if __name__ == "__main__":
    unique, exact_dropped = exact_dedup(kept)
    print(
        f"exact dedup: {len(kept)} -> {len(unique)} documents ({len(exact_dropped)}"
        " removed)"
    )
    for doc_id, _ in exact_dropped:
        print("  removed", doc_id)
    dropped_ids = {d for d, _ in exact_dropped}
    assert {
        "synthetic:dup/river-exact",
        "synthetic:dup/printing-reformatted",
    } <= dropped_ids
    assert "synthetic:good/river" not in dropped_ids
    stage_counts["after exact dedup"] = len(unique)


# %% export note_line=614
MERSENNE_PRIME = (1 << 61) - 1
MAX_HASH = (1 << 32) - 1


def shingles(text, n=5):
    """Set of word n-grams of the normalised text (a short text yields its whole word
    sequence)."""
    words = re.findall(r"\w+", normalize_text(text))
    return (
        {" ".join(words[i : i + n]) for i in range(max(len(words) - n + 1, 1))}
        if words
        else set()
    )


def jaccard(a, b):
    return len(a & b) / len(a | b) if (a or b) else 1.0


class MinHasher:
    """k universal hash functions h_i(x) = ((a_i x + b_i) mod p) mod 2^32 over 32-bit
    shingle hashes."""

    def __init__(self, num_perm=128, seed=1):
        rng = np.random.RandomState(seed)
        self.a = rng.randint(1, 1 << 31, size=num_perm, dtype=np.uint64)
        self.b = rng.randint(0, 1 << 31, size=num_perm, dtype=np.uint64)
        self.num_perm = num_perm

    def signature(self, shingle_set):
        if not shingle_set:
            return np.full(self.num_perm, MAX_HASH, dtype=np.uint64)
        x = np.array(
            [
                int.from_bytes(
                    hashlib.blake2b(s.encode(), digest_size=4).digest(), "little"
                )
                for s in shingle_set
            ],
            dtype=np.uint64,
        )
        # a < 2^31 and x < 2^32, so a*x < 2^63 fits in uint64 before the modulo
        hashed = (
            (x[:, None] * self.a[None, :] + self.b[None, :]) % MERSENNE_PRIME
        ) & MAX_HASH
        return hashed.min(axis=0)


def estimate_jaccard(sig_a, sig_b):
    return float(np.mean(sig_a == sig_b))


def lsh_candidates(signatures, bands, rows):
    """Pairs (i, j), i < j, whose signatures agree on every row of at least one band."""
    assert bands * rows <= len(signatures[0])
    pairs = set()
    for band in range(bands):
        buckets = {}
        for i, sig in enumerate(signatures):
            buckets.setdefault(
                sig[band * rows : (band + 1) * rows].tobytes(), []
            ).append(i)
        for members in buckets.values():
            pairs.update(
                (members[x], members[y])
                for x in range(len(members))
                for y in range(x + 1, len(members))
            )
    return pairs


def near_dup_clusters(n_docs, pairs):
    """Union-find over duplicate pairs; returns a representative index for each document
    (the smallest index)."""
    parent = list(range(n_docs))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n_docs)]


# %% note_line=708
if __name__ == "__main__":
    import random
    from itertools import combinations

    NUM_PERM, BANDS, ROWS, NEAR_DUP_THRESHOLD = 128, 32, 4, 0.7
    hasher = MinHasher(num_perm=NUM_PERM, seed=1)

    rng = random.Random(0)
    base_words = (GOOD_RIVER + " " + GOOD_PRINTING).split()
    family = []
    for frac in [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.8]:
        words = list(base_words)
        for pos in rng.sample(range(len(words)), int(frac * len(words))):
            words[pos] = rng.choice(
                ["alpha", "beta", "gamma", "delta", "omega", "sigma"]
            ) + str(rng.randint(0, 99))
        family.append(" ".join(words))

    shingle_sets = [shingles(t) for _, t in unique]
    signatures = [hasher.signature(s) for s in shingle_sets]
    fam_sets = [shingles(t) for t in family]
    fam_sigs = [hasher.signature(s) for s in fam_sets]

    pairs_to_check = [
        (fam_sets[i], fam_sets[j], fam_sigs[i], fam_sigs[j])
        for i, j in combinations(range(len(family)), 2)
    ]
    pairs_to_check += [
        (shingle_sets[i], shingle_sets[j], signatures[i], signatures[j])
        for i, j in combinations(range(len(unique)), 2)
        if shingle_sets[i] & shingle_sets[j]
    ]
    exact_j = np.array([jaccard(a, b) for a, b, _, _ in pairs_to_check])
    est_j = np.array([estimate_jaccard(sa, sb) for _, _, sa, sb in pairs_to_check])
    err = est_j - exact_j
    sigma = np.sqrt(exact_j * (1 - exact_j) / NUM_PERM)
    print(
        f"{len(pairs_to_check)} pairs, exact Jaccard from {exact_j.min():.3f} to"
        f" {exact_j.max():.3f}"
    )
    print(
        f"MinHash (k={NUM_PERM}) error: mean {err.mean():+.4f}, mean |err|"
        f" {np.abs(err).mean():.4f}, max |err| {np.abs(err).max():.4f}, largest |err|/sigma"
        f" {np.max(np.abs(err) / np.maximum(sigma, 1e-9)):.2f}"
    )
    # Hoeffding + union bound: with probability >= 1 - delta, every one of the P estimates
    # is within t of the truth
    delta = 1e-3
    t_bound = np.sqrt(np.log(2 * len(err) / delta) / (2 * NUM_PERM))
    print(f"Hoeffding bound for {len(err)} pairs at delta={delta}: |err| <= {t_bound:.3f}")
    assert np.abs(err).max() <= t_bound
    assert np.abs(err).mean() < 0.03


# %% note_line=766
if __name__ == "__main__":
    from datasketch import MinHash, MinHashLSH


    def near_duplicate_pairs(candidates, threshold=NEAR_DUP_THRESHOLD):
        """Verify LSH candidates with the exact Jaccard similarity."""
        return {
            (i, j)
            for i, j in candidates
            if jaccard(shingle_sets[i], shingle_sets[j]) >= threshold
        }


    ours_candidates = lsh_candidates(signatures, BANDS, ROWS)
    ours_pairs = near_duplicate_pairs(ours_candidates)

    ds_hashes = []
    lsh = MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))
    for i, s in enumerate(shingle_sets):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([x.encode("utf-8") for x in s])
        lsh.insert(str(i), m)
        ds_hashes.append(m)
    ds_candidates = {
        tuple(sorted((i, int(j))))
        for i, m in enumerate(ds_hashes)
        for j in lsh.query(m)
        if int(j) != i
    }
    ds_pairs = near_duplicate_pairs(ds_candidates)

    ds_est = np.array(
        [
            ds_hashes[i].jaccard(ds_hashes[j])
            for i, j in sorted(ours_candidates | ds_candidates)
        ]
    )
    our_est = np.array(
        [
            estimate_jaccard(signatures[i], signatures[j])
            for i, j in sorted(ours_candidates | ds_candidates)
        ]
    )
    all_pairs = len(unique) * (len(unique) - 1) // 2
    print(
        f"all pairs: {all_pairs}; LSH candidates: ours {len(ours_candidates)}, datasketch"
        f" {len(ds_candidates)}"
    )
    print(
        f"verified near-duplicate pairs (J >= {NEAR_DUP_THRESHOLD}): ours"
        f" {len(ours_pairs)}, datasketch {len(ds_pairs)}, in common"
        f" {len(ours_pairs & ds_pairs)}"
    )
    print(
        "on the union of candidates, max |ours - datasketch| estimate ="
        f" {np.abs(ds_est - our_est).max():.3f}"
    )
    for i, j in sorted(ours_pairs):
        print(
            f"  J={jaccard(shingle_sets[i], shingle_sets[j]):.3f}  {unique[i][0]}  ~ "
            f" {unique[j][0]}"
        )

    ids = [d for d, _ in unique]
    must_find = {
        (ids.index("synthetic:good/river"), ids.index("synthetic:neardup/river-edited")),
        (ids.index("crawl:/lighthouse.html"), ids.index("crawl:/lighthouse-print.html")),
    }
    assert must_find <= ours_pairs and must_find <= ds_pairs
    assert ours_pairs == ds_pairs
    assert np.abs(ds_est - our_est).max() < 0.25

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.scatter(exact_j, est_j, s=10, alpha=0.6)
    ax1.plot([0, 1], [0, 1], "k--", lw=1)
    ax1.set(
        xlabel="exact Jaccard",
        ylabel="MinHash estimate",
        title=f"k = {NUM_PERM} permutations",
    )
    s = np.linspace(0, 1, 200)
    for b, r in [(BANDS, ROWS), (16, 8)]:
        ax2.plot(s, 1 - (1 - s**r) ** b, label=f"b={b}, r={r}")
        print(
            f"b={b:2d}, r={r}: P(candidate) = {1 - (1 - 0.7**r) ** b:.4f} at J=0.7, "
            f"{1 - (1 - 0.3**r) ** b:.4f} at J=0.3"
        )
    ax2.axvline(
        NEAR_DUP_THRESHOLD, color="k", ls="--", lw=1, label="verification threshold"
    )
    ax2.set(
        xlabel="Jaccard similarity",
        ylabel="P(candidate pair)",
        title="LSH banding S-curves",
    )
    ax2.legend(fontsize=8)
    plt.tight_layout()
    plt.show()


# %% note_line=871
if __name__ == "__main__":
    reps = near_dup_clusters(len(unique), ours_pairs)
    deduped = [doc for i, doc in enumerate(unique) if reps[i] == i]
    print(f"near-dup removal: {len(unique)} -> {len(deduped)} documents")
    kept_ids = {d for d, _ in deduped}
    assert (
        "synthetic:neardup/river-edited" not in kept_ids
        and "synthetic:good/river" in kept_ids
    )
    assert "crawl:/lighthouse-print.html" not in kept_ids
    stage_counts["after near-dup removal"] = len(deduped)


# %% export note_line=898
EMAIL_RE = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
CARD_RE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
SSN_RE = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{2,4})(?:["
    r" .-]?\d{2,4}){2,3}(?![\w])"
)


def luhn_ok(number):
    """Luhn checksum used by payment card numbers."""
    digits = [int(c) for c in number if c.isdigit()][::-1]
    total = sum(
        d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
        for i, d in enumerate(digits)
    )
    return total % 10 == 0


def _ipv4_ok(candidate):
    return all(
        0 <= int(part) <= 255 and (part == "0" or not part.startswith("0"))
        for part in candidate.split(".")
    )


def redact_pii(text):
    """Replace e-mails, card numbers (Luhn-valid), US SSNs, IPv4 addresses and phone
    numbers with tags.

    Returns (redacted_text, Counter of tags)."""
    counts = Counter()

    def sub(pattern, tag, text, valid=lambda s: True):
        def repl(m):
            if not valid(m.group(0)):
                return m.group(0)
            counts[tag] += 1
            return f"[{tag}]"

        return pattern.sub(repl, text)

    text = sub(EMAIL_RE, "EMAIL", text)
    text = sub(
        CARD_RE,
        "CREDIT_CARD",
        text,
        lambda s: 13 <= sum(c.isdigit() for c in s) <= 19 and luhn_ok(s),
    )
    text = sub(SSN_RE, "SSN", text)
    text = sub(IPV4_RE, "IP", text, _ipv4_ok)
    text = sub(
        PHONE_RE, "PHONE", text, lambda s: 10 <= sum(c.isdigit() for c in s) <= 15
    )
    return text, counts


# %% note_line=962
if __name__ == "__main__":
    MUST_REDACT = {
        "mail me at alice.smith@example.com today": "EMAIL",
        "cc: bob+news@mail.co.uk": "EMAIL",
        "call (555) 123-4567 after six": "PHONE",
        "office +44 20 7946 0958": "PHONE",
        "server at 192.168.0.1 is down": "IP",
        "visa 4111 1111 1111 1111 expires soon": "CREDIT_CARD",
        "mastercard 5500-0000-0000-0004": "CREDIT_CARD",
        "amex 378282246310005": "CREDIT_CARD",
        "ssn 123-45-6789 on file": "SSN",
    }
    MUST_KEEP = [
        "the meeting is on 2024-01-15 at 10:30",
        "upgrade torch to 2.13.0 and numpy to 1.26.4",
        "not an address: 999.12.1.1",
        "order number 4111 1111 1111 1112 fails the checksum",
        "GPT-3 has 175 billion parameters and a 2,048-token context",
        "ISBN 978-3-16-148410-0",
        "the ratio was 3.14159 and the p-value 0.001",
        "follow @vault_bot or email us at support (at) example (dot) org",
        "call 911 in an emergency",
    ]
    for text, tag in MUST_REDACT.items():
        redacted, counts = redact_pii(text)
        assert counts == Counter({tag: 1}), (text, redacted, counts)
        print(f"  redacted  {redacted}")
    for text in MUST_KEEP:
        redacted, counts = redact_pii(text)
        assert redacted == text and not counts, (text, redacted)
    print(f"{len(MUST_REDACT)} must-redact and {len(MUST_KEEP)} must-keep tests pass")


# %% note_line=999
if __name__ == "__main__":
    redacted_corpus, pii_totals = [], Counter()
    for doc_id, text in deduped:
        clean, counts = redact_pii(text)
        pii_totals.update(counts)
        redacted_corpus.append((doc_id, clean))
    print("PII replaced in the corpus:", dict(pii_totals))
    pii_doc = dict(redacted_corpus)["synthetic:good/pii"]
    print(pii_doc[:330], "...")
    for secret in ["jane.doe@example.org", "014-2368", "4539 1488", "203.0.113.42"]:
        assert secret not in pii_doc
    assert all(pii_totals[tag] >= 1 for tag in ["EMAIL", "PHONE", "CREDIT_CARD", "IP"])
    stage_counts["after PII redaction"] = len(redacted_corpus)


# %% export note_line=1028
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

UNK = "<unk>"
EOS = "<|endoftext|>"


def train_tokenizer(kind, texts, vocab_size=2000):
    """Train a 'bpe', 'byte_bpe', 'wordpiece' or 'unigram' tokenizer on an iterable of
    strings."""
    # byte-level BPE can spell anything, so it gets no <unk> at all (a literal "<unk>"
    # in the text stays text)
    special = [EOS] if kind == "byte_bpe" else [UNK, EOS]
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=special, show_progress=False
        )
    elif kind == "byte_bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    elif kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, special_tokens=special, show_progress=False
        )
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        # without unk_token, encoding a character never seen in training raises an error
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            show_progress=False,
            unk_token=UNK,
        )
    else:
        raise ValueError(f"unknown tokenizer kind: {kind}")
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def tokenizer_stats(tok, texts):
    """Compression (chars/token), fertility (tokens/word) and unknown-token rate on some
    texts."""
    unk_id = tok.token_to_id(UNK)
    n_tok = n_unk = n_chars = n_words = 0
    for enc, text in zip(tok.encode_batch(texts), texts):
        n_tok += len(enc.ids)
        n_unk += sum(i == unk_id for i in enc.ids)
        n_chars += len(text)
        n_words += len(text.split())
    return {
        "vocab": tok.get_vocab_size(),
        "chars_per_token": n_chars / max(n_tok, 1),
        "tokens_per_word": n_tok / max(n_words, 1),
        "unk_rate": n_unk / max(n_tok, 1),
    }


# %% note_line=1099
if __name__ == "__main__":
    from runner.env import artifact, fingerprint

    texts = [t for _, t in redacted_corpus]
    train_texts = [t for i, t in enumerate(texts) if i % 10 != 3]
    heldout_texts = [t for i, t in enumerate(texts) if i % 10 == 3]
    probe = [
        "Naïve café owners in Zürich price a crème brûlée at 12 €; 東京 prices differ 🚀."
    ]
    print(
        f"tokenizer training: {len(train_texts)} documents ({sum(map(len, train_texts)):,}"
        f" chars); held out: {len(heldout_texts)} documents"
        f" ({sum(map(len, heldout_texts)):,} chars)"
    )


    def cached_tokenizer(kind, vocab_size=2000):
        """Train once per (code, corpus) and reuse the saved JSON: see the callout below on
    reproducibility."""
        key = fingerprint(
            "tokenizer", kind, str(vocab_size), train_tokenizer, "\x00".join(train_texts)
        )
        path = artifact(
            f"{kind}.json",
            key,
            lambda p: train_tokenizer(kind, train_texts, vocab_size).save(str(p)),
        )
        return Tokenizer.from_file(str(path))


    tokenizers_ = {
        kind: cached_tokenizer(kind) for kind in ["bpe", "byte_bpe", "wordpiece", "unigram"]
    }
    rows = {
        kind: (tokenizer_stats(tok, heldout_texts), tokenizer_stats(tok, probe))
        for kind, tok in tokenizers_.items()
    }
    print(
        f"\n{'tokenizer':10s} {'vocab':>6s} {'chars/token':>12s} {'tokens/word':>12s}"
        f" {'unk held-out':>13s} {'unk probe':>10s}"
    )
    for kind, (held, pr) in rows.items():
        print(
            f"{kind:10s} {held['vocab']:6d} {held['chars_per_token']:12.2f}"
            f" {held['tokens_per_word']:12.2f} {held['unk_rate']:13.2%}"
            f" {pr['unk_rate']:10.2%}"
        )
    for kind in rows:
        print(f"{kind:10s}", tokenizers_[kind].encode(probe[0]).tokens[:14])

    assert rows["byte_bpe"][0]["unk_rate"] == 0 and rows["byte_bpe"][1]["unk_rate"] == 0
    assert (
        tokenizers_["byte_bpe"].decode(tokenizers_["byte_bpe"].encode(probe[0]).ids)
        == probe[0]
    )
    assert all(rows[k][1]["unk_rate"] > 0 for k in ["bpe", "wordpiece", "unigram"])
    assert all(r[0]["chars_per_token"] > 1.5 for r in rows.values())


# %% export note_line=1184
class PackedLMDataset(Dataset):
    """Non-overlapping blocks of a concatenated token stream, as (input_ids, labels)
    shifted by one position."""

    def __init__(self, token_ids, block_size):
        ids = torch.as_tensor(token_ids, dtype=torch.long)
        n_blocks = (len(ids) - 1) // block_size
        if n_blocks < 1:
            raise ValueError(f"need more than {block_size} tokens, got {len(ids)}")
        self.ids, self.block_size, self.n_blocks = ids, block_size, n_blocks

    def __len__(self):
        return self.n_blocks

    def __getitem__(self, i):
        start = i * self.block_size
        chunk = self.ids[start : start + self.block_size + 1]
        return {"input_ids": chunk[:-1], "labels": chunk[1:]}


def strip_special_tokens(text, specials=(UNK, EOS)):
    """Remove literal special-token strings: a document that merely *mentions*
    "<|endoftext|>" must not end early."""
    for token in specials:
        text = text.replace(token, "")
    return text


def pack_documents(tokenizer, texts, eos_token=EOS):
    """Concatenate tokenised documents, each followed by the end-of-text token."""
    eos_id = tokenizer.token_to_id(eos_token)
    stream = []
    for enc in tokenizer.encode_batch([strip_special_tokens(t) for t in texts]):
        stream.extend(enc.ids)
        stream.append(eos_id)
    return stream


# %% note_line=1223
if __name__ == "__main__":
    from torch.utils.data import DataLoader

    BLOCK = 64
    tok = tokenizers_["byte_bpe"]
    mention = f"a note that explains the {EOS} token"
    print("raw text mentioning the token  ->", tok.encode(mention).tokens[-4:])
    print(
        "after strip_special_tokens     ->",
        tok.encode(strip_special_tokens(mention)).tokens[-4:],
    )
    # the library turns the mention into the control token
    assert tok.token_to_id(EOS) in tok.encode(mention).ids
    print(
        "corpus documents that mention a special token:",
        sum(any(t in x for t in (UNK, EOS)) for x in texts),
    )
    train_stream = pack_documents(tok, train_texts)
    val_stream = pack_documents(tok, heldout_texts)
    train_ds, val_ds = (
        PackedLMDataset(train_stream, BLOCK),
        PackedLMDataset(val_stream, BLOCK),
    )
    loader = DataLoader(
        train_ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    batch = next(iter(loader))
    print(
        f"train stream {len(train_stream):,} tokens -> {len(train_ds)} blocks of {BLOCK}; "
        f"validation {len(val_stream):,} tokens -> {len(val_ds)} blocks"
    )
    print("batch shapes:", tuple(batch["input_ids"].shape), tuple(batch["labels"].shape))
    print("input :", repr(tok.decode(batch["input_ids"][0, :12].tolist())))
    print("labels:", repr(tok.decode(batch["labels"][0, :12].tolist())))

    assert (
        batch["input_ids"].shape == batch["labels"].shape == (min(8, len(train_ds)), BLOCK)
    )
    assert torch.equal(batch["input_ids"][:, 1:], batch["labels"][:, :-1])
    for i in [0, len(train_ds) - 1]:
        item = train_ds[i]
        assert torch.equal(
            item["labels"], torch.tensor(train_stream[i * BLOCK + 1 : (i + 1) * BLOCK + 1])
        )
    assert train_stream.count(tok.token_to_id(EOS)) == len(train_texts)
    stage_counts["training blocks"] = len(train_ds)


# %% note_line=1283
if __name__ == "__main__":
    from transformers.loss.loss_utils import ForCausalLMLoss

    V = tok.get_vocab_size()
    logits = torch.randn(2, BLOCK, V, generator=torch.Generator().manual_seed(0))
    x, y = batch["input_ids"][:2], batch["labels"][:2]
    hf_loss_unshifted = ForCausalLMLoss(logits, x, vocab_size=V)
    manual_loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, V), x[:, 1:].reshape(-1)
    )
    hf_loss_preshifted = ForCausalLMLoss(logits, y, vocab_size=V)
    print(
        f"HF loss with labels=input_ids: {hf_loss_unshifted:.4f}; manual shifted CE:"
        f" {manual_loss:.4f}; HF loss with pre-shifted labels: {hf_loss_preshifted:.4f}"
    )
    assert torch.allclose(hf_loss_unshifted, manual_loss, atol=1e-5)
    assert not torch.allclose(hf_loss_preshifted, manual_loss, atol=1e-3)


# %% note_line=1304
if __name__ == "__main__":
    print(f"{'stage':28s} {'documents':>10s}")
    for stage, count in stage_counts.items():
        print(f"{stage:28s} {count:10d}")
    values = list(stage_counts.values())
    assert values[:5] == sorted(values[:5], reverse=True), (
        "document counts can only shrink along the pipeline"
    )
