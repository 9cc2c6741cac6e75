# generated from vault/Advanced Topics/Multimodal LLMs.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import multimodal_llms` (the cells marked `export`).
# Run it: `python -m companions.multimodal_llms` runs the whole note.

# %% note_line=34
if __name__ == "__main__":
    import itertools, math
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import matplotlib.pyplot as plt
    from runner.env import seed_everything

    seed_everything(0)
    torch.set_num_threads(1)


# %% export note_line=55
import itertools
import numpy as np
import torch

SHAPES = ["circle", "square", "triangle", "cross"]
COLOURS = {
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.8, 0.2),
    "blue": (0.15, 0.3, 0.95),
    "yellow": (0.95, 0.85, 0.1),
    "purple": (0.6, 0.2, 0.8),
}
SIZES = ["small", "large"]
IMG = 28
# 40 (shape, colour, size) triples
CONCEPTS = list(itertools.product(SHAPES, COLOURS, SIZES))
TEMPLATES = [
    "a {size} {colour} {shape}",
    "a photo of a {size} {colour} {shape}",
    "{colour} {shape} , {size}",
    "there is a {shape} that is {colour} and {size}",
    "a picture of a {colour} {shape} , it is {size}",
]
VOCAB = ["<pad>"] + sorted(
    {w for t in TEMPLATES for w in t.split() if "{" not in w}
    | set(SHAPES)
    | set(COLOURS)
    | set(SIZES)
)
STOI = {w: i for i, w in enumerate(VOCAB)}


def shape_mask(
    shape: str, size: str, rng: np.random.Generator, img: int = IMG
) -> np.ndarray:
    """Boolean mask of one shape at a random position (radius jittered by +-10%)."""
    r = (4.5 if size == "small" else 8.5) * rng.uniform(0.9, 1.1)
    cy, cx = rng.uniform(r + 1, img - r - 1, size=2)
    yy, xx = np.mgrid[0:img, 0:img] + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == "circle":
        return dy**2 + dx**2 <= r**2
    if shape == "square":
        return (np.abs(dy) <= 0.85 * r) & (np.abs(dx) <= 0.85 * r)
    if shape == "triangle":
        return (dy <= 0.8 * r) & (dy >= -r) & (np.abs(dx) <= 0.6 * (dy + r))
    if shape == "cross":
        w = max(1.0, 0.35 * r)
        return ((np.abs(dy) <= w) & (np.abs(dx) <= r)) | (
            (np.abs(dx) <= w) & (np.abs(dy) <= r)
        )
    raise ValueError(shape)


def draw(shape: str, colour: str, size: str, rng: np.random.Generator) -> np.ndarray:
    """An (IMG, IMG, 3) float image in [0, 1]: noisy grey background, noisy coloured
    shape."""
    img = 0.5 + rng.normal(0, 0.06, (IMG, IMG, 3))
    m = shape_mask(shape, size, rng)
    img[m] = np.array(COLOURS[colour]) + rng.normal(0, 0.04, (int(m.sum()), 3))
    return np.clip(img, 0, 1).astype(np.float32)


def caption(
    shape: str, colour: str, size: str, rng: np.random.Generator | None = None
) -> str:
    """Canonical caption without rng; a random template with one."""
    t = TEMPLATES[0] if rng is None else TEMPLATES[rng.integers(len(TEMPLATES))]
    return t.format(shape=shape, colour=colour, size=size)


def images_tensor(concepts, rng) -> torch.Tensor:
    """Draw one image per concept -> (N, 3, IMG, IMG)."""
    return torch.from_numpy(np.stack([draw(*c, rng) for c in concepts])).permute(
        0, 3, 1, 2
    )


def encode_captions(caps, max_len: int = 12) -> torch.Tensor:
    """Whitespace tokenisation into a padded (N, max_len) id tensor (0 = padding)."""
    ids = torch.zeros(len(caps), max_len, dtype=torch.long)
    for i, c in enumerate(caps):
        toks = [STOI[w] for w in c.split()][:max_len]
        ids[i, : len(toks)] = torch.tensor(toks)
    return ids


# %% note_line=143
if __name__ == "__main__":
    HELD_OUT = {
        ("triangle", "blue"),
        ("circle", "yellow"),
        ("square", "purple"),
        ("cross", "red"),
    }
    train_concepts = [c for c in CONCEPTS if (c[0], c[1]) not in HELD_OUT]
    print(
        f"{len(CONCEPTS)} concepts, {len(train_concepts)} used in training, vocabulary of"
        f" {len(VOCAB)} words"
    )

    rng = np.random.default_rng(7)
    show = [CONCEPTS[i] for i in rng.choice(len(CONCEPTS), 12, replace=False)]
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.6))
    for ax, c in zip(axes.flat, show):
        ax.imshow(draw(*c, rng))
        ax.set_title(caption(*c, rng), fontsize=6)
        ax.axis("off")
    plt.suptitle("synthetic (image, caption) pairs", fontsize=9)
    plt.tight_layout()
    plt.show()


# %% export note_line=191
import math
import torch.nn as nn
import torch.nn.functional as F


class ImageEncoder(nn.Module):
    def __init__(self, dim: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Linear(64, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TextEncoder(nn.Module):
    """Mean of word embeddings (padding ignored) followed by an MLP."""

    def __init__(self, vocab_size: int, dim: int = 32, hidden: int = 64):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dim)
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).float().unsqueeze(-1)
        return self.mlp((self.emb(ids) * mask).sum(1) / mask.sum(1))


class ToyCLIP(nn.Module):
    def __init__(self, vocab_size: int, dim: int = 32):
        super().__init__()
        self.image, self.text = ImageEncoder(dim), TextEncoder(vocab_size, dim)
        # 1/temperature, in log space
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def embed_images(self, x):
        return F.normalize(self.image(x), dim=-1)

    def embed_texts(self, ids):
        return F.normalize(self.text(ids), dim=-1)

    def forward(self, images, ids):
        """(N_images, N_texts) matrix of scaled cosine similarities."""
        scale = self.logit_scale.exp().clamp(max=100.0)
        return scale * self.embed_images(images) @ self.embed_texts(ids).T


def clip_loss(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE: image->text and text->image cross-entropy with the diagonal as
    targets."""
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


# %% note_line=265
if __name__ == "__main__":
    test_concepts = [c for c in CONCEPTS for _ in range(5)]
    test_images = images_tensor(test_concepts, np.random.default_rng(123))
    test_labels = torch.tensor([CONCEPTS.index(c) for c in test_concepts])
    candidates = encode_captions([caption(*c) for c in CONCEPTS])
    held_mask = torch.tensor([(c[0], c[1]) in HELD_OUT for c in test_concepts])


    def evaluate(model):
        with torch.no_grad():
            sims = model(test_images, candidates)  # (200 images, 40 captions)
        pred = sims.argmax(1)
        ok = pred == test_labels
        # text -> image: for each caption, is the best-scoring image one of its own five
        # drawings?
        t2i = (
            (test_labels[sims.argmax(0)] == torch.arange(len(CONCEPTS)))
            .float()
            .mean()
            .item()
        )
        return {
            "i2t_seen": ok[~held_mask].float().mean().item(),
            "i2t_held_out": ok[held_mask].float().mean().item(),
            "t2i": t2i,
            "pred": pred,
        }


    seed_everything(0)
    model = ToyCLIP(len(VOCAB))
    before = evaluate(model)
    print(
        f"untrained: image->text top-1 seen {before['i2t_seen']:.3f}, held-out"
        f" {before['i2t_held_out']:.3f}, text->image top-1 {before['t2i']:.3f}   (chance"
        f" {1 / len(CONCEPTS):.3f})"
    )
    print(
        f"parameters: image {sum(p.numel() for p in model.image.parameters()):,}, "
        f"text {sum(p.numel() for p in model.text.parameters()):,}"
    )


# %% note_line=312
if __name__ == "__main__":
    seed_everything(0)
    g = np.random.default_rng(0)
    steps = 300
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=5e-3, total_steps=steps, pct_start=0.1
    )
    losses = []
    for step in range(steps):
        batch = [train_concepts[j] for j in g.permutation(len(train_concepts))[:32]]
        images = images_tensor(batch, g)
        ids = encode_captions([caption(*c, g) for c in batch])
        loss = clip_loss(model(images, ids))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    print(
        f"trained {steps} steps; loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f} (log"
        f" 32 = {math.log(32):.3f} is chance); learned 1/temperature"
        f" {model.logit_scale.exp().item():.1f}"
    )
    assert np.mean(losses[-20:]) < 0.5 * losses[0]


# %% note_line=339
if __name__ == "__main__":
    after = evaluate(model)
    print(
        f"trained:   image->text top-1 seen {after['i2t_seen']:.3f}, held-out"
        f" {after['i2t_held_out']:.3f}, text->image top-1 {after['t2i']:.3f}"
    )
    attribute_acc = {}
    for k, name in enumerate(["shape", "colour", "size"]):
        acc = np.mean(
            [
                CONCEPTS[p][k] == CONCEPTS[l][k]
                for p, l in zip(after["pred"].tolist(), test_labels.tolist())
            ]
        )
        attribute_acc[name] = acc
        print(f"  attribute '{name}' correct in {acc:.3f} of predictions")
    assert after["i2t_seen"] >= 0.8 and after["i2t_seen"] > before["i2t_seen"] + 0.5
    assert after["t2i"] > before["t2i"] + 0.5
    # composition is the hard part (see below)
    assert after["i2t_held_out"] < after["i2t_seen"] - 0.5
    assert min(attribute_acc["colour"], attribute_acc["size"]) >= 0.95
    assert attribute_acc["shape"] < min(attribute_acc["colour"], attribute_acc["size"])

    # what the model answers for a held-out combination it gets wrong
    wrong = [
        (CONCEPTS[p], CONCEPTS[l])
        for p, l, h in zip(after["pred"].tolist(), test_labels.tolist(), held_mask.tolist())
        if h and p != l
    ]
    answered_seen = np.mean([(got[0], got[1]) not in HELD_OUT for got, _ in wrong])
    shares_colour_or_shape = np.mean(
        [got[0] == true[0] or got[1] == true[1] for got, true in wrong]
    )
    print(
        f"held-out images misread: {len(wrong)}; answered with a seen combination"
        f" {answered_seen:.3f}, sharing its shape or colour {shares_colour_or_shape:.3f}"
    )
    assert answered_seen >= 0.9 and shares_colour_or_shape >= 0.9

    with torch.no_grad():
        idx = [CONCEPTS.index(c) for c in CONCEPTS[:10]]
        sims = model(test_images[[5 * i for i in idx]], candidates[idx]).numpy()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    ax[0].plot(losses)
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("InfoNCE loss")
    ax[0].set_title("training")
    ax[1].imshow(sims, cmap="viridis")
    ax[1].set_title("image x caption similarity (10 concepts)")
    ax[1].set_xlabel("caption")
    ax[1].set_ylabel("image")
    diagonal = np.diag(sims).mean()
    print(
        f"similarity matrix: diagonal mean {diagonal:.1f}, off-diagonal mean"
        f" {sims[~np.eye(10, dtype=bool)].mean():.1f}"
    )
    assert (sims.argmax(1) == np.arange(10)).all()
    plt.tight_layout()
    plt.show()


# %% note_line=421
if __name__ == "__main__":
    with torch.no_grad():
        img_emb = model.embed_images(test_images)
        class_emb = []
        for s in SHAPES:
            caps = [
                t.format(shape=s, colour=c, size=z)
                for t in TEMPLATES
                for c in COLOURS
                for z in SIZES
            ]
            class_emb.append(
                F.normalize(model.embed_texts(encode_captions(caps)).mean(0), dim=0)
            )
        class_emb = torch.stack(class_emb)
        single = F.normalize(
            model.embed_texts(encode_captions([f"a {s}" for s in SHAPES])), dim=-1
        )
    true_shape = torch.tensor([SHAPES.index(c[0]) for c in test_concepts])
    acc_ens = ((img_emb @ class_emb.T).argmax(1) == true_shape).float().mean().item()
    acc_one = ((img_emb @ single.T).argmax(1) == true_shape).float().mean().item()
    print(
        f"zero-shot shape accuracy: single prompt 'a <shape>' {acc_one:.3f}, ensemble of"
        f" {len(TEMPLATES) * len(COLOURS) * len(SIZES)} prompts {acc_ens:.3f}  (chance"
        f" {1 / len(SHAPES):.2f})"
    )
    assert min(acc_ens, acc_one) > 1 / len(SHAPES) + 0.2


# %% note_line=477
if __name__ == "__main__":
    def patchify(images: torch.Tensor, p: int) -> torch.Tensor:
        """(B, C, H, W) -> (B, (H/p)*(W/p), C*p*p): the 'visual words' a ViT embeds."""
        B, C, H, W = images.shape
        x = images.unfold(2, p, p).unfold(3, p, p)  # (B, C, H/p, W/p, p, p)
        return x.permute(0, 2, 3, 1, 4, 5).reshape(B, (H // p) * (W // p), C * p * p)


    vit_tokens = lambda side, p: (side // p) ** 2
    print(
        "ViT-L/14 tokens at 224px:", vit_tokens(224, 14), " at 336px:", vit_tokens(336, 14)
    )
    print(
        "Qwen2-VL-style tokens (28x28 px each) for a 1288x980 screenshot:",
        (1288 // 28) * (980 // 28),
    )
    assert vit_tokens(224, 14) == 256 and vit_tokens(336, 14) == 576

    seed_everything(0)
    d_vision, d_model, p = 64, 96, 4
    patches = patchify(test_images[:1], p)  # (1, 49, 48)
    vision_tower = nn.Linear(3 * p * p, d_vision)  # stand-in for a pretrained ViT
    # LLaVA-1.5's MLP
    projector = nn.Sequential(
        nn.Linear(d_vision, d_model), nn.GELU(), nn.Linear(d_model, d_model)
    )
    text_embedding = nn.Embedding(len(VOCAB), d_model)

    prompt_ids = encode_captions(["a photo of a"])[0]
    prompt_ids = prompt_ids[prompt_ids != 0]
    answer_ids = encode_captions([caption(*test_concepts[0])])[0]
    answer_ids = answer_ids[answer_ids != 0]
    visual = projector(vision_tower(patches))[0]  # (49, d_model): the visual tokens
    # what the LLM sees
    inputs = torch.cat([text_embedding(prompt_ids), visual, text_embedding(answer_ids)])
    IGNORE = -100
    labels = torch.cat(
        [torch.full((len(prompt_ids) + visual.shape[0],), IGNORE), answer_ids]
    )
    print(
        f"patches {tuple(patches.shape)} -> visual tokens {tuple(visual.shape)}; LLM input"
        f" {tuple(inputs.shape)}"
    )
    print(
        f"supervised positions: {(labels != IGNORE).sum().item()} of {len(labels)} "
        f"(answer: '{' '.join(VOCAB[i] for i in answer_ids)}')"
    )
    assert inputs.shape[0] == labels.shape[0] and (labels != IGNORE).sum().item() == len(
        answer_ids
    )
