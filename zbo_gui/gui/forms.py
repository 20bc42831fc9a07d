"""Settings forms bound to the fields of a frozen config dataclass by name.

A :class:`DataclassForm` reads the fields of a dataclass (``core.config``) and builds one editor per
field from the field's type, so that adding a config field needs no GUI change:

=====================  =============================================================
field type             editor
=====================  =============================================================
``int``                :class:`QSpinBox` (any integer; the dataclass decides what is valid)
``float``              :class:`QLineEdit` (a number in any notation: ``0.01``, ``1e-4``)
``bool``               :class:`QCheckBox`
``str`` with choices   :class:`QComboBox`
``str``                :class:`QLineEdit`
``tuple[int, ...]``    :class:`QLineEdit`, comma-separated (``128, 128``)
``tuple[float, ...]``  :class:`QLineEdit`, comma-separated (``1, 99.5``)
``tuple[str, ...]``    one :class:`QCheckBox` per choice, or a comma-separated line edit
=====================  =============================================================

Every edit is validated by constructing the dataclass. A :class:`~zbo_gui.core.errors.ConfigError`
names the field as ``section.field`` (``jrvae.lr must be > 0, got -0.1``); the form shows the
message in red under the field it names (or under the form when it names none of its fields).
Each editor's ``objectName`` is that qualified name, and its tooltip is the field's description
from the dataclass docstring (its ``Attributes:`` section) or a caller's text.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from zbo_gui.core.errors import ConfigError

#: Style of the error labels (red text).
ERROR_STYLE = "color: #c62828;"
#: Style of a warning: usable, but worth a look.
WARN_STYLE = "color: #e65100;"
_INT_MIN, _INT_MAX = -(2**31) + 1, 2**31 - 1


class FieldParseError(ValueError):
    """The text of an editor is not a value of the field's type (message names the field)."""


def attribute_docs(cls: type) -> dict[str, str]:
    """Field descriptions from the ``Attributes:`` section of a Google-style class docstring.

    Args:
        cls: A class whose docstring may have an ``Attributes:`` section.

    Returns:
        Field name -> its description, continuation lines joined with spaces.
    """
    doc = inspect.getdoc(cls) or ""
    out: dict[str, str] = {}
    inside = False
    current: str | None = None
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            inside, current = True, None
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        match = re.match(r"^ {2,6}(\w+)(?: \([^)]*\))?: ?(.*)$", line)
        if match and not line.startswith(" " * 8):
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current and line.strip():
            out[current] = (out[current] + " " + line.strip()).strip()
    return out


def format_float(value: float) -> str:
    """Text for a float editor that parses back to the same value (``0.01``, ``1e-05``)."""
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{number:.1f}"
    return repr(number)


def _kind(annotation: Any, has_choices: bool) -> str:
    """The editor kind for a resolved type annotation ("" when unsupported)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return ""
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is str:
        return "choice" if has_choices else "str"
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            if args[0] is int:
                return "ints"
            if args[0] is float:
                return "floats"
            if args[0] is str:
                return "multi" if has_choices else "strs"
    return ""


class DataclassForm(QWidget):
    """An editor for (some of) the fields of one frozen config dataclass.

    The form edits a *base* instance: fields it does not show keep the base's values. Every edit
    re-validates by constructing the dataclass; the first :class:`ConfigError` is shown under the
    field it names.

    Args:
        cls: The dataclass (e.g. ``JrVAEConfig``).
        section: The prefix of field names in ``ConfigError`` messages (``"jrvae"``); ``""`` for
            top-level fields.
        fields: Field names to show, in this order (default: every field of a supported type).
        exclude: Field names not to show.
        choices: Field name -> allowed values, for ``str`` (combo box) and ``tuple[str, ...]``
            (check boxes) fields.
        labels: Field name -> row label (default: the field name with spaces).
        tooltips: Field name -> tooltip (default: the docstring's description of the field).
        base: The instance to edit (default: ``cls()``).
        parent: The parent widget.

    Signals:
        edited: After every edit, once the form has been re-validated.
        validityChanged(bool): When the form becomes valid or invalid.
    """

    edited = Signal()
    validityChanged = Signal(bool)

    def __init__(
        self,
        cls: type,
        section: str,
        *,
        fields: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
        choices: Mapping[str, Sequence[str]] | None = None,
        labels: Mapping[str, str] | None = None,
        tooltips: Mapping[str, str] | None = None,
        base: Any | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        self._cls = cls
        self._section = section
        self._choices = {k: tuple(v) for k, v in (choices or {}).items()}
        self._base = base if base is not None else cls()
        hints = typing.get_type_hints(cls)
        docs = attribute_docs(cls)
        labels = labels or {}
        tooltips = tooltips or {}
        skip = set(exclude)
        all_fields = [f.name for f in dataclasses.fields(cls)]
        names = list(fields) if fields is not None else all_fields
        self._kinds: dict[str, str] = {}
        for name in names:
            if name not in all_fields:
                raise ValueError(f"{cls.__name__} has no field {name!r}")
            kind = _kind(hints[name], name in self._choices)
            if not kind:
                if fields is not None:
                    raise TypeError(f"{cls.__name__}.{name}: no editor for type {hints[name]!r}")
                continue
            if name not in skip:
                self._kinds[name] = kind

        self._editors: dict[str, QWidget] = {}
        self._boxes: dict[str, dict[str, QCheckBox]] = {}
        self._errors: dict[str, QLabel] = {}
        self._error: str | None = None
        self._error_field: str | None = None
        layout = QFormLayout()
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name, kind in self._kinds.items():
            tip = tooltips.get(name) or docs.get(name) or f"{self.qualified(name)}"
            tip = f"{tip}\n[{self.qualified(name)}]" if tip != self.qualified(name) else tip
            editor = self._make_editor(name, kind, tip)
            error = QLabel()
            error.setObjectName(f"{self.qualified(name)}:error")
            error.setStyleSheet(ERROR_STYLE)
            error.setWordWrap(True)
            error.setToolTip(f"Why {self.qualified(name)} is not accepted")
            error.hide()
            self._errors[name] = error
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(1)
            cell_layout.addWidget(editor)
            cell_layout.addWidget(error)
            label = QLabel(labels.get(name, name.replace("_", " ")))
            label.setToolTip(tip)
            layout.addRow(label, cell)
        self._form_error = QLabel()
        self._form_error.setObjectName(f"{section or 'config'}:error")
        self._form_error.setStyleSheet(ERROR_STYLE)
        self._form_error.setWordWrap(True)
        self._form_error.setToolTip("Why these settings are not accepted together")
        self._form_error.hide()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(layout)
        outer.addWidget(self._form_error)
        self._valid = True
        self.set_value(self._base)

    # ------------------------------------------------------------------ construction

    def qualified(self, name: str) -> str:
        """The field's name as config messages spell it (``section.name``)."""
        return f"{self._section}.{name}" if self._section else name

    def _make_editor(self, name: str, kind: str, tip: str) -> QWidget:
        editor: QWidget
        if kind == "int":
            spin = QSpinBox()
            spin.setRange(_INT_MIN, _INT_MAX)
            spin.setKeyboardTracking(True)
            spin.valueChanged.connect(self._on_edit)
            editor = spin
        elif kind == "bool":
            check = QCheckBox()
            check.toggled.connect(self._on_edit)
            editor = check
        elif kind == "choice":
            combo = QComboBox()
            combo.addItems(list(self._choices[name]))
            combo.currentIndexChanged.connect(self._on_edit)
            editor = combo
        elif kind == "multi":
            editor = QWidget()
            row = QHBoxLayout(editor)
            row.setContentsMargins(0, 0, 0, 0)
            boxes = {}
            for choice in self._choices[name]:
                box = QCheckBox(choice)
                box.setObjectName(f"{self.qualified(name)}:{choice}")
                box.setToolTip(f"{tip}\n(include {choice!r})")
                box.toggled.connect(self._on_edit)
                row.addWidget(box)
                boxes[choice] = box
            row.addStretch(1)
            self._boxes[name] = boxes
        else:  # float, str, ints, floats, strs: text
            line = QLineEdit()
            if kind == "ints":
                line.setPlaceholderText("e.g. 128, 128")
            line.textEdited.connect(self._on_edit)
            editor = line
        editor.setObjectName(self.qualified(name))
        editor.setToolTip(tip)
        self._editors[name] = editor
        return editor

    # ------------------------------------------------------------------ values

    @property
    def field_names(self) -> tuple[str, ...]:
        """The fields this form shows, in order."""
        return tuple(self._kinds)

    def editor(self, name: str) -> QWidget:
        """The editor widget of a field (for tests and custom layouts)."""
        return self._editors[name]

    def error_label(self, name: str | None = None) -> QLabel:
        """The red label under a field (``None``: the label under the whole form)."""
        return self._form_error if name is None else self._errors[name]

    def set_value(self, value: Any) -> None:
        """Show ``value`` (an instance of the form's dataclass) and make it the new base.

        Raises:
            TypeError: If ``value`` is not an instance of the form's dataclass.
        """
        if not isinstance(value, self._cls):
            raise TypeError(f"expected {self._cls.__name__}, got {type(value).__name__}")
        self._base = value
        for name, kind in self._kinds.items():
            current = getattr(value, name)
            editor = self._editors[name]
            editor.blockSignals(True)
            try:
                if kind == "int":
                    assert isinstance(editor, QSpinBox)
                    editor.setValue(int(current))
                elif kind == "bool":
                    assert isinstance(editor, QCheckBox)
                    editor.setChecked(bool(current))
                elif kind == "choice":
                    assert isinstance(editor, QComboBox)
                    index = editor.findText(str(current))
                    if index < 0:  # a value outside the known choices: show it anyway
                        editor.addItem(str(current))
                        index = editor.count() - 1
                    editor.setCurrentIndex(index)
                elif kind == "multi":
                    for choice, box in self._boxes[name].items():
                        box.blockSignals(True)
                        box.setChecked(choice in current)
                        box.blockSignals(False)
                elif kind == "float":
                    assert isinstance(editor, QLineEdit)
                    editor.setText(format_float(current))
                elif kind == "floats":
                    assert isinstance(editor, QLineEdit)
                    editor.setText(", ".join(format_float(v) for v in current))
                elif kind in ("ints", "strs"):
                    assert isinstance(editor, QLineEdit)
                    editor.setText(", ".join(str(v) for v in current))
                else:
                    assert isinstance(editor, QLineEdit)
                    editor.setText(str(current))
            finally:
                editor.blockSignals(False)
        self._validate()

    def _parse(self, name: str) -> Any:
        kind = self._kinds[name]
        editor = self._editors[name]
        qualified = self.qualified(name)
        if kind == "int":
            assert isinstance(editor, QSpinBox)
            return editor.value()
        if kind == "bool":
            assert isinstance(editor, QCheckBox)
            return editor.isChecked()
        if kind == "choice":
            assert isinstance(editor, QComboBox)
            return editor.currentText()
        if kind == "multi":
            return tuple(c for c, box in self._boxes[name].items() if box.isChecked())
        assert isinstance(editor, QLineEdit)
        text = editor.text().strip()
        if kind == "float":
            try:
                number = float(text)
            except ValueError:
                raise FieldParseError(f"{qualified} must be a number, got {text!r}") from None
            if not math.isfinite(number):
                raise FieldParseError(f"{qualified} must be finite, got {text!r}")
            return number
        if kind == "ints":
            cells = [c.strip() for c in re.split(r"[,\s]+", text) if c.strip()]
            try:
                return tuple(int(c) for c in cells)
            except ValueError:
                raise FieldParseError(
                    f"{qualified} must be integers separated by commas, got {text!r}"
                ) from None
        if kind == "floats":
            cells = [c.strip() for c in re.split(r"[,\s]+", text) if c.strip()]
            try:
                values = tuple(float(c) for c in cells)
            except ValueError:
                raise FieldParseError(
                    f"{qualified} must be numbers separated by commas, got {text!r}"
                ) from None
            if not all(math.isfinite(v) for v in values):
                raise FieldParseError(f"{qualified} must be finite numbers, got {text!r}")
            return values
        if kind == "strs":
            return tuple(c.strip() for c in text.split(",") if c.strip())
        return text

    def _build(self) -> tuple[Any | None, str | None, str | None]:
        """``(value, error, field)``: the dataclass built from the editors, or the first error."""
        values: dict[str, Any] = {}
        for name in self._kinds:
            try:
                values[name] = self._parse(name)
            except FieldParseError as exc:
                return None, str(exc), name
        try:
            return dataclasses.replace(self._base, **values), None, None
        except ConfigError as exc:
            return None, str(exc), self._field_named_in(str(exc))
        except (TypeError, ValueError) as exc:  # a value the dataclass could not even compare
            return None, f"{self._section or 'config'}: {exc}", None

    def _field_named_in(self, message: str) -> str | None:
        """The shown field whose qualified name occurs first in ``message``."""
        best: tuple[int, str] | None = None
        for name in self._kinds:
            match = re.search(rf"(?<![\w.]){re.escape(self.qualified(name))}(?!\w)", message)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), name)
        return best[1] if best else None

    def _validate(self) -> None:
        _, error, name = self._build()
        self._error, self._error_field = error, name
        for field_name, label in self._errors.items():
            shown = error if field_name == name else None
            label.setText(shown or "")
            label.setVisible(bool(shown))
        general = error if (error and name is None) else None
        self._form_error.setText(general or "")
        self._form_error.setVisible(bool(general))
        valid = error is None
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)

    def _on_edit(self, *_: object) -> None:
        self._validate()
        self.edited.emit()

    def is_valid(self) -> bool:
        """Whether the editors hold a valid value."""
        return self._error is None

    def error(self) -> str | None:
        """The current validation message (None when valid)."""
        return self._error

    def error_field(self) -> str | None:
        """The field the current message names (None when valid or when it names none)."""
        return self._error_field

    def value(self) -> Any:
        """The edited dataclass instance.

        Raises:
            ConfigError: If the editors do not hold a valid value (the message names the field).
        """
        value, error, _ = self._build()
        if error is not None:
            raise ConfigError(error)
        return value


def set_narrow(panel: QWidget, splitter: QSplitter, narrow: bool, height: int) -> None:
    """Lay a panel's two halves side by side, or (``narrow``) one above the other with the
    panel at least ``height`` px tall (it sits in a scroll area)."""
    orientation = Qt.Orientation.Vertical if narrow else Qt.Orientation.Horizontal
    if splitter.orientation() != orientation:
        splitter.setOrientation(orientation)
    panel.setMinimumHeight(height if narrow else 0)
