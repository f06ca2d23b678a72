"""What an adaptation run reports: per field the candidates' held-out figures, before and after, and why it was or
was not deployed; written as ``report.json`` and ``report.png``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from classifiers.adaptation.metric import Figures


class FieldReport(BaseModel):
    """One label field on the adapted camera."""

    model_config = ConfigDict(frozen=True)

    field: str
    head: str | None = Field(description="The bank head judging it (None: the bank has none).")
    method: str | None = Field(default=None, description="The method chosen by leave-one-vehicle-out utility.")
    deployed: bool = Field(default=False, description="The new version carries a new adaptation of this head.")
    reason: str = ""
    vehicles: int = Field(default=0, description="Vehicles with a definite label for the field.")
    cant_tell: int = 0
    views: int = Field(default=0, description="Views of the camera used for the field (labelled or not).")
    candidates: dict[str, Figures] = Field(
        default_factory=dict, description="Every method's leave-one-vehicle-out figures (thresholds cross-fitted)."
    )
    before: Figures | None = Field(default=None, description="The deployed state (current version or base).")
    after: Figures | None = Field(default=None, description="The chosen method, leave-one-vehicle-out.")
    current: str = Field(default="base", description="What decided this head before: 'base' or the version.")
    gain: float = Field(default=0.0, description="Utility after minus before (leave-one-vehicle-out).")
    standard_error: float = Field(default=0.0, description="Its paired standard error over vehicles.")


class AdaptationReport(BaseModel):
    """The outcome of one ``adapt_camera`` run."""

    model_config = ConfigDict(frozen=True)

    camera_id: str
    deployed: bool
    version: str | None = Field(description="The version published (None: nothing deployed).")
    previous: str | None = Field(default=None, description="The version that was current before (None: base).")
    reason: str
    fields: dict[str, FieldReport] = Field(default_factory=dict)
    vehicles: int = Field(default=0, description="Labelled vehicles of the camera.")
    labelled_views: int = 0
    seconds: float = 0.0
    created_at: str = ""
    created_by: str = ""
    other_cameras: dict[str, dict[str, Figures]] = Field(
        default_factory=dict,
        description="Other cameras' labelled vehicles under their own deployed state: an adaptation changes only "
        "its camera, so these must be the same before and after.",
    )

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"camera {self.camera_id}: {'deployed ' + str(self.version) if self.deployed else 'not deployed'}"]
        lines.append(f"  {self.reason}")
        for name, f in self.fields.items():
            lines.append(f"  {name} ({f.head or 'no head'}): {f.reason}")
            if f.before is not None:
                lines.append(f"    before ({f.current}): {f.before.summary()}")
            if f.after is not None:
                lines.append(f"    after ({f.method}, leave-one-vehicle-out): {f.after.summary()}")
        lines.append(f"  {self.vehicles} labelled vehicles, {self.labelled_views} views, {self.seconds:.1f} s")
        return "\n".join(lines)


def write_report(report: AdaptationReport, folder: Path) -> tuple[Path, Path]:
    """Writes ``report.json`` and ``report.png`` (per field: accuracy and coverage before, after and of every
    candidate) into ``folder``; returns their paths. The plot needs matplotlib (the tools extra)."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "report.json"
    json_path.write_text(report.model_dump_json(indent=2))
    png_path = folder / "report.png"
    _plot(report, png_path)
    return json_path, png_path


def _plot(report: AdaptationReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fields = [f for f in report.fields.values() if f.before is not None]
    fig, axes = plt.subplots(1, max(len(fields), 1), figsize=(4.5 * max(len(fields), 1), 3.6), squeeze=False)
    for ax, f in zip(axes[0], fields, strict=False):
        rows = [("before", f.before), *((f"{m} (LOVO)", c) for m, c in f.candidates.items())]
        names = [n for n, _ in rows]
        acc = [(c.accuracy or 0.0) if c is not None else 0.0 for _, c in rows]
        cov = [(c.coverage or 0.0) if c is not None else 0.0 for _, c in rows]
        y = range(len(rows))
        ax.barh([i - 0.2 for i in y], acc, height=0.4, label="accuracy where named")
        ax.barh([i + 0.2 for i in y], cov, height=0.4, label="coverage (named)")
        ax.set_yticks(list(y), names)
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        chosen = f" → {f.method}" + (" deployed" if f.deployed else " not deployed") if f.method else ""
        ax.set_title(f"{f.field}: {f.vehicles} vehicles{chosen}", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"camera {report.camera_id}: {'deployed ' + str(report.version) if report.deployed else 'not deployed'}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
