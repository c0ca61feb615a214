"""Chinese messages for validation errors, shared by the JSON API (422) and the HTML forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

# Messages for pydantic's built-in error types; ``{...}`` fields come from the error's ``ctx``.
_MESSAGES: dict[str, str] = {
    "missing": "必填",
    "string_too_short": "不能为空",
    "string_too_long": "不能超过 {max_length} 个字",
    "string_type": "应为文本",
    "string_pattern_mismatch": "格式不正确",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "literal_error": "不是可选的值",
    "enum": "不是可选的值",
    "bool_parsing": "应为是或否",
    "bool_type": "应为是或否",
    "date_parsing": "不是有效日期（格式：2023-05-20）",
    "date_from_datetime_parsing": "不是有效日期（格式：2023-05-20）",
    "date_type": "不是有效日期（格式：2023-05-20）",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "json_invalid": "请求内容不是有效的 JSON",
    "model_attributes_type": "格式不正确",
    "model_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "extra_forbidden": "不认识的字段",
    "value_error": "{error}",
    "int_too_big": "数值过大",
}


def field_error(kind: str, message: str) -> PydanticCustomError:
    """Raise from a validator to get exactly ``message`` (no English prefix)."""
    return PydanticCustomError(kind, message)


def _title_for(loc: Sequence[Any], titles: Mapping[str, str]) -> str:
    names = [
        str(p) for p in loc if isinstance(p, str) and p not in ("body", "query", "path", "form", "header")
    ]
    for name in reversed(names):
        if name in titles:
            return titles[name]
    return names[-1] if names else ""


_TITLES: dict[str, str] = {}


def register_titles(*models: type[BaseModel]) -> None:
    """Make the Chinese titles of these models' fields a fallback for errors whose model is not known."""
    for name, title in titles_of(*models).items():
        _TITLES.setdefault(name, title)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]``, ``dict[str, X]`` or ``Annotated[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def title_along(model: type[BaseModel] | None, loc: Sequence[Any]) -> str | None:
    """The title of the innermost named field on ``loc``, walking the model tree (``survey.structures.0.area``
    → 建筑面积), so the same field name can carry different titles in different models."""
    current, title = model, None
    for part in loc:
        if current is None or not isinstance(part, str):
            continue
        info = current.model_fields.get(part)
        if info is None:
            info = next((f for f in current.model_fields.values() if f.alias == part), None)
        if info is None:
            continue  # a dict key or the "body" prefix
        title = info.title or title
        current = _model_in(info.annotation)
    return title


def chinese_message(
    error: Mapping[str, Any], titles: Mapping[str, str] | None = None, *, model: type[BaseModel] | None = None
) -> str:
    """``户主姓名：必填`` for one pydantic error; ``model`` is the model that was validated, when known."""
    kind = str(error.get("type", ""))
    ctx = dict(error.get("ctx") or {})
    template = _MESSAGES.get(kind)
    if template is None:
        # A custom error from one of our validators already carries a Chinese message.
        msg = str(error.get("msg", "格式不正确"))
    else:
        try:
            msg = template.format(**{k: str(v) for k, v in ctx.items()})
        except (KeyError, IndexError):
            msg = template
    loc = error.get("loc", ())
    title = title_along(model, loc) if model is not None else None
    if title is None:
        title = _title_for(loc, titles if titles is not None else _TITLES)
    return f"{title}：{msg}" if title else msg


def titles_of(*models: type[BaseModel]) -> dict[str, str]:
    """Field name → Chinese title, from ``Field(title=...)`` on the given models."""
    out: dict[str, str] = {}
    for model in models:
        for name, info in model.model_fields.items():
            if info.title:
                out[name] = info.title
                if info.alias:
                    out[info.alias] = info.title
    return out
