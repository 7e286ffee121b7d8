"""jaxgd.plot: every figure comes out as a non-empty PNG, and draws what it says (divergence marks, lines, regions)."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd
from jaxgd import plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def saved(fig_or_ax, tmp_path, name="fig.png"):
    path = tmp_path / name
    plot.save(fig_or_ax, path)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000
    assert not [p for p in os.listdir(tmp_path) if "tmp" in p], "a temporary file was left behind"
    return path


@pytest.fixture(scope="module")
def ravine_runs():
    p = jaxgd.problems.ravine(50.0)
    return p, {
        "GD 0.01": jaxgd.run(jaxgd.sgd(0.01), p, p.x0, 60),
        "GD 0.03": jaxgd.run(jaxgd.sgd(0.03), p, p.x0, 300),  # diverges: x2 doubles each step, overflows float32
    }


def test_contour_draws_paths_and_stops_at_divergence(tmp_path, ravine_runs):
    p, runs = ravine_runs
    params = np.asarray(runs["GD 0.03"].params, float)
    assert not np.all(np.isfinite(params))
    ax = plot.contour(p, runs)
    drawn = {line.get_label(): line for line in ax.lines}
    assert np.array_equal(drawn["GD 0.01"].get_xydata(), np.asarray(runs["GD 0.01"].params, float))
    diverged = drawn["GD 0.03"].get_xydata()
    # cut before the first point that is non-finite or absurdly far (1000 box widths) from the plot
    assert 0 < len(diverged) < int(np.argmin(np.all(np.isfinite(params), axis=1)))
    np.testing.assert_array_equal(diverged, params[: len(diverged)])
    assert np.abs(diverged).max() <= 1000 * 9.0 < np.abs(params[len(diverged)]).max()
    saved(ax, tmp_path)


def test_contour_log_and_many_paths(tmp_path):
    rb = jaxgd.problems.rosenbrock()
    starts = np.array([[-1.5, 2.0], [0.0, 2.5], [1.5, -0.5]], np.float32)
    paths = np.stack([np.asarray(jaxgd.run(jaxgd.adam(0.05), rb, s, 50).params) for s in starts])
    ax = plot.contour(rb, {"Adam from 3 starts": paths}, log=True)
    assert sum(line.get_label() == "Adam from 3 starts" for line in ax.lines) == 1  # one legend entry
    assert len([line for line in ax.lines if len(line.get_xdata()) == 51]) == 3
    saved(ax, tmp_path)


def test_contour_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        plot.contour(jaxgd.problems.rosenbrock(3))


def test_path_panels_one_panel_per_entry(tmp_path, ravine_runs):
    p, runs = ravine_runs
    panels = {f"eta {k}": {"GD": v} for k, v in runs.items()}
    panels["eta 0.01 again"] = {"GD": runs["GD 0.01"]}
    fig = plot.path_panels(p, panels, ncols=2, suptitle="panels")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == list(panels)
    assert len(fig.axes) == 4  # a 2x2 grid, one hidden
    saved(fig, tmp_path)
    with pytest.raises(ValueError, match="at least one panel"):
        plot.path_panels(p, {})


def test_loss_curves_log_scale_and_blowup_cross(tmp_path, ravine_runs):
    _, runs = ravine_runs
    ax = plot.loss_curves(runs, blowup=1e4)
    assert ax.get_yscale() == "log"
    lines = {line.get_label(): line for line in ax.lines}
    start = float(runs["GD 0.01"].loss[0])
    grow = lines["GD 0.03"].get_ydata()
    # the diverging curve is cut where it first exceeds 1e4 x the largest start, and ends in a cross
    first_above = int(np.argmax(np.asarray(runs["GD 0.03"].loss) > 1e4 * start))
    assert len(grow) == first_above
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and np.isclose(crosses[0].get_ydata()[0], 1e4 * start)
    saved(ax, tmp_path)


def test_update_ratios_and_learning_rates(tmp_path, ravine_runs):
    _, runs = ravine_runs
    ax = plot.update_ratios({"GD 0.01": runs["GD 0.01"]})
    assert any(np.allclose(line.get_ydata(), 1e-3) for line in ax.lines)
    saved(ax, tmp_path, "ratio.png")
    sched = jaxgd.schedules.step_decay(0.1, 0.5, 10)
    ax = plot.learning_rates({"step": sched, "constant": [0.05] * 40}, 40)
    step_line = ax.lines[0]
    np.testing.assert_allclose(step_line.get_ydata(), 0.1 * 0.5 ** (np.arange(40) // 10), rtol=1e-6)
    saved(ax, tmp_path, "lr.png")


def test_sweep_plot_marks_divergence_and_theory_lines(tmp_path):
    lrs = np.geomspace(1e-3, 0.03, 25)
    final = np.where(lrs < 0.02, (1 - lrs * 2) ** 200, np.inf)
    ax = plot.sweep_plot(lrs, {"GD": final}, stability_bound=0.02, optimal_lr=2 / 102, lines={"other": 0.01})
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and len(crosses[0].get_xdata()) == int(np.sum(lrs >= 0.02))
    vertical = sorted(
        line.get_xdata()[0] for line in ax.lines if len(set(line.get_xdata())) == 1 and line.get_marker() != "x"
    )
    np.testing.assert_allclose(vertical, sorted([0.02, 2 / 102, 0.01]))
    saved(ax, tmp_path)
    with pytest.raises(ValueError, match="shape"):
        plot.sweep_plot(lrs, final[:-1])


def test_heatmap_grey_diverged_cells_and_region(tmp_path):
    lrs = np.geomspace(1e-3, 0.1, 12)
    momenta = np.linspace(0, 0.95, 8)
    aa, bb = np.meshgrid(lrs, momenta)
    stable = aa * 100 < 2 + 2 * bb
    z = np.where(stable, np.exp(-aa * 100), np.inf)
    ax = plot.heatmap(lrs, momenta, z, region=lambda x, y: x * 100 < 2 + 2 * y)
    mesh = ax.collections[0]
    assert np.ma.count_masked(mesh.get_array()) == int((~stable).sum())  # diverged cells masked (grey)
    assert len(ax.collections) >= 2  # the region's edge drawn as a contour
    saved(ax, tmp_path)
    ax = plot.heatmap(lrs, momenta, z, region=stable)  # a boolean array works too
    saved(ax, tmp_path, "b.png")
    with pytest.raises(ValueError, match="shape"):
        plot.heatmap(lrs, momenta, z.T)


def test_train_val_curves_one_panel_per_metric(tmp_path):
    h1 = {"train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "train_accuracy": [0.5, 0.8, 0.9]}
    h2 = {"train_loss": [1.0, 0.4, 0.2], "val_loss": [1.1, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.7]}
    fig = plot.train_val_curves({"dropout": h1, "plain": h2})
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 4 and len(fig.axes[1].lines) == 2
    saved(fig, tmp_path)
    fig = plot.train_val_curves(h1)  # a single history
    assert len(fig.axes[0].lines) == 2
    saved(fig, tmp_path, "single.png")
    with pytest.raises(ValueError, match="train_"):
        plot.train_val_curves({"loss": [1.0]})


def test_hessian_spectrum_stems_and_histogram(tmp_path):
    ax = plot.hessian_spectrum([-1.0, 2.0, 100.0], lines={"2/eta": 20.0})
    reds = [line for line in ax.lines if line.get_label() == "negative"]
    assert len(reds) == 1 and list(reds[0].get_ydata()) == [-1.0]
    saved(ax, tmp_path)
    ev = np.concatenate([np.random.default_rng(0).normal(size=500), [50.0]])
    ax = plot.hessian_spectrum(ev)
    assert len(ax.patches) > 0  # a histogram
    saved(ax, tmp_path, "hist.png")
    with pytest.raises(ValueError, match="finite"):
        plot.hessian_spectrum([1.0, np.nan])


def test_save_pdf_and_float64(tmp_path):
    import jax

    with jax.enable_x64(True):
        p = jaxgd.problems.ravine(10.0)
        traj = jaxgd.run(jaxgd.momentum(jnp.float64(0.01), 0.9), p, p.x0, 30)
        assert traj.params.dtype == jnp.float64
        ax = plot.contour(p, {"hb": traj})
    path = plot.save(ax, tmp_path / "f.pdf")
    assert open(path, "rb").read(4) == b"%PDF"


def test_animate_paths_writes_a_gif_whole_with_the_frames_asked(tmp_path, ravine_runs):
    from PIL import Image

    problem, runs = ravine_runs
    diverging = np.array([[4.0, 0.5], [3.0, -1.0], [np.inf, 0.0]])  # drawn up to its first non-finite point
    target = tmp_path / "race.gif"
    out = plot.animate_paths(problem, {**runs, "diverging": diverging}, target, frames=6, title="race")
    assert out == os.fspath(target)
    with Image.open(target) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.gif"]  # no temporary file left
    with pytest.raises(ValueError, match="at least 2 frames"):
        plot.animate_paths(problem, runs, tmp_path / "x.gif", frames=1)
