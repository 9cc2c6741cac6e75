# generated from vault/Basics/Introduction to AI and Machine Learning.md — do not edit; regenerate with `llm-vault export`
# Import it: `from companions import introduction_to_ai_and_machine_learning` (the cells marked `export`).
# Run it: `python -m companions.introduction_to_ai_and_machine_learning` runs the whole note.

# %% note_line=46
if __name__ == "__main__":
    import numpy as np
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    centers = np.array([[-2.0, -1.0], [2.0, 1.5]])
    X = np.vstack([rng.normal(c, 0.9, size=(150, 2)) for c in centers])
    y = np.repeat([0, 1], 150)
    perm = rng.permutation(len(X))
    X, y = X[perm], y[perm]
    X_train, y_train, X_test, y_test = X[:200], y[:200], X[200:], y[200:]

    # Supervised: logistic regression, p(y=1|x) = sigmoid(w.x + b), fitted by gradient
    # descent on the log-loss
    w, b = np.zeros(2), 0.0
    for step in range(500):
        p = 1 / (1 + np.exp(-(X_train @ w + b)))
        w -= 0.1 * X_train.T @ (p - y_train) / len(X_train)
        b -= 0.1 * np.mean(p - y_train)
    test_acc = np.mean(((X_test @ w + b) > 0) == y_test)

    # Unsupervised: k-means with k=2, no labels used
    cent = X[rng.choice(len(X), 2, replace=False)]
    for _ in range(20):
        assign = np.argmin(((X[:, None, :] - cent[None]) ** 2).sum(-1), axis=1)
        cent = np.array([X[assign == k].mean(0) for k in range(2)])
    # cluster ids are arbitrary, so compare with the labels under the better of the two
    # matchings
    cluster_agreement = max(np.mean(assign == y), np.mean(assign != y))

    print(
        f"supervised logistic regression: test accuracy {test_acc:.3f} (w ="
        f" {np.round(w, 2)}, b = {b:.2f})"
    )
    print(
        "unsupervised k-means: clusters agree with the hidden labels on"
        f" {cluster_agreement:.3f} of the points"
    )
    assert test_acc > 0.9 and cluster_agreement > 0.9

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
    ax1.scatter(*X_train.T, c=y_train, cmap="coolwarm", s=10)
    xs = np.linspace(X[:, 0].min(), X[:, 0].max(), 2)
    ax1.plot(xs, -(w[0] * xs + b) / w[1], "k--", label="learned boundary")
    ax1.set_title("supervised: labels given")
    ax1.legend(loc="lower right", fontsize=8)
    ax2.scatter(*X.T, c=assign, cmap="viridis", s=10)
    ax2.scatter(*cent.T, c="red", marker="x", s=80, label="cluster centres")
    ax2.set_title("unsupervised: structure discovered")
    ax2.legend(loc="lower right", fontsize=8)
    plt.tight_layout()
    plt.show()


# %% note_line=104
if __name__ == "__main__":
    true_payout = np.array([0.3, 0.5, 0.7])  # hidden from the agent
    estimates, pulls = np.zeros(3), np.zeros(3)
    rng = np.random.default_rng(1)
    total_reward = 0.0
    for t in range(2000):
        # epsilon-greedy, epsilon = 0.1
        arm = rng.integers(3) if rng.random() < 0.1 else int(np.argmax(estimates))
        reward = float(rng.random() < true_payout[arm])
        pulls[arm] += 1
        # running mean of observed rewards
        estimates[arm] += (reward - estimates[arm]) / pulls[arm]
        total_reward += reward
    print(
        "estimated payouts:", np.round(estimates, 3), " pulls per arm:", pulls.astype(int)
    )
    print(
        f"average reward {total_reward / 2000:.3f} (best possible {true_payout.max()},"
        f" random play {true_payout.mean()})"
    )
    assert np.argmax(estimates) == 2 and pulls[2] > pulls[:2].sum()


# %% note_line=140
if __name__ == "__main__":
    rng = np.random.default_rng(2)
    f = lambda x: np.sin(2 * np.pi * x)
    x_tr = np.sort(rng.uniform(0, 1, 15))
    y_tr = f(x_tr) + rng.normal(0, 0.2, 15)
    # test inside the training range: no extrapolation
    x_te = rng.uniform(x_tr.min(), x_tr.max(), 500)
    y_te = f(x_te) + rng.normal(0, 0.2, 500)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    grid = np.linspace(0, 1, 300)
    errors = {}
    for degree in [1, 3, 12]:
        # least squares on a rescaled domain
        pred = np.polynomial.Polynomial.fit(x_tr, y_tr, degree)
        errors[degree] = (
            np.mean((pred(x_tr) - y_tr) ** 2),
            np.mean((pred(x_te) - y_te) ** 2),
        )
        ax.plot(grid, np.clip(pred(grid), -2, 2), label=f"degree {degree}")
        print(
            f"degree {degree:2d}: train MSE {errors[degree][0]:.4g}   test MSE"
            f" {errors[degree][1]:.4g}"
        )
    ax.scatter(x_tr, y_tr, color="k", zorder=3, label="training points")
    ax.plot(grid, f(grid), "k:", label="true function")
    ax.set_ylim(-2, 2)
    ax.legend(fontsize=8, ncol=2)
    plt.tight_layout()
    plt.show()
    # the flexible model fits the training data better...
    assert errors[12][0] < errors[3][0]
    assert errors[12][1] > errors[3][1]  # ...and generalises worse: overfitting
    assert errors[1][1] > errors[3][1]  # the rigid model underfits


# %% note_line=187
if __name__ == "__main__":
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)  # four training points: extra threads would only add overhead
    X_xor = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y_xor = torch.tensor([0.0, 1.0, 1.0, 0.0])


    def train(model, steps=300):
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(
                model(X_xor).squeeze(-1), y_xor
            )
            loss.backward()
            opt.step()
        acc = ((model(X_xor).squeeze(-1) > 0).float() == y_xor).float().mean().item()
        return loss.item(), acc


    linear = nn.Linear(2, 1)
    mlp = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    for name, model in [("linear model", linear), ("1 hidden layer", mlp)]:
        loss, acc = train(model)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name:15s} {n_params:3d} parameters: loss {loss:.3f}, accuracy {acc:.2f}")
        if name == "linear model":
            assert acc <= 0.75  # no line separates XOR
        else:
            assert acc == 1.0


# %% note_line=232
if __name__ == "__main__":
    sentence = "machine learning turns data into predictions".split()
    pairs = [(sentence[:i], sentence[i]) for i in range(1, len(sentence))]
    for context, target in pairs:
        print(f"{' '.join(context):45s} -> {target}")
    assert len(pairs) == len(sentence) - 1 and all(t == sentence[len(c)] for c, t in pairs)
