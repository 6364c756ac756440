"""Load a scoring model from a TOML file, or the default model shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from scoring.model import ModelError, ScoringModel, parse_model

_DEFAULT_PACKAGE = "scoring"
_DEFAULT_RESOURCE = "models/default.toml"


def default_model_path() -> Path:
    """Return the path of the default med spa model inside the installed package."""
    resource = resources.files(_DEFAULT_PACKAGE).joinpath(_DEFAULT_RESOURCE)
    return Path(str(resource))


def load_model(path: Path | None = None) -> ScoringModel:
    """Read and validate a model file; None loads the default model.

    Raises `ModelError` naming the file when it is missing, unreadable, not
    UTF-8 or invalid.
    """
    if path is None:
        resource = resources.files(_DEFAULT_PACKAGE).joinpath(_DEFAULT_RESOURCE)
        return parse_model(resource.read_text(encoding="utf-8"), source=str(default_model_path()))

    source = str(path)
    try:
        # utf-8-sig drops a byte order mark, which some Windows editors write.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ModelError.single(
            source, "model file not found; check the path or omit it to use the default model"
        ) from exc
    except IsADirectoryError as exc:
        raise ModelError.single(source, "is a directory, not a model file") from exc
    except PermissionError as exc:
        raise ModelError.single(source, "permission denied reading the model file") from exc
    except UnicodeDecodeError as exc:
        raise ModelError.single(
            source, f"model file is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from exc
    except OSError as exc:
        raise ModelError.single(source, f"cannot read the model file: {exc.strerror}") from exc
    return parse_model(text, source=source)
