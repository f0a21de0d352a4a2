"""The downtime intake's request schema (policies/intake.yaml) as a typed model.

One schema feeds the web form, the JSON API, the paper form, CSV import and the replay, so a
field added here appears everywhere at once.
"""

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policies.documents import load_document

SCHEMA_FILE = Path(__file__).with_name("intake.yaml")
LANGUAGES = ("en", "de")
Language = Literal["en", "de"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Model):
    """Customer-facing text in every shipped language."""

    en: Annotated[str, Field(min_length=1)]
    de: Annotated[str, Field(min_length=1)]

    def get(self, language: str) -> str:
        return self.de if language == "de" else self.en


class Choice(_Model):
    value: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    label: Text
    crm: int | None = None  # the CRM's code for this value (priority 1..4)


class FieldSpec(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    kind: Literal["text", "email", "phone", "choice", "textarea", "consent"]
    required: bool = False
    max_length: Annotated[int, Field(ge=1, le=100_000)] = 200
    pattern: str | None = None
    personal: bool = False
    default: str | None = None
    label: Text
    help: Text | None = None
    choices: list[Choice] = Field(default_factory=list)

    @model_validator(mode="after")
    def _choices_for_choice(self) -> "FieldSpec":
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"expected choices exactly when kind is 'choice' (field {self.name})")
        if self.default is not None and self.choices and self.default not in self.values():
            raise ValueError(f"expected default of {self.name} to be one of its choices")
        return self

    def values(self) -> list[str]:
        return [choice.value for choice in self.choices]

    def choice(self, value: str) -> Choice:
        return next(choice for choice in self.choices if choice.value == value)


class Limits(_Model):
    body_bytes: Annotated[int, Field(ge=1024, le=1_048_576)] = 16384
    csv_rows: Annotated[int, Field(ge=1)] = 50_000


REQUIRED_FIELDS = ("name", "email", "account_number", "phone", "request_type", "priority", "description", "consent")


class IntakeSchema(_Model):
    version: Literal[1] = 1
    limits: Limits = Field(default_factory=Limits)
    fields: list[FieldSpec]

    @model_validator(mode="after")
    def _known_fields(self) -> "IntakeSchema":
        names = [spec.name for spec in self.fields]
        missing = [name for name in REQUIRED_FIELDS if name not in names]
        if missing or len(set(names)) != len(names):
            raise ValueError(f"expected each of {', '.join(REQUIRED_FIELDS)} exactly once (missing: "
                             f"{', '.join(missing) or 'none'})")
        return self

    def field(self, name: str) -> FieldSpec:
        return next(spec for spec in self.fields if spec.name == name)

    def field_names(self) -> list[str]:
        return [spec.name for spec in self.fields]

    def personal_fields(self) -> list[str]:
        return [spec.name for spec in self.fields if spec.personal]


@cache
def load_intake_schema(path: Path = SCHEMA_FILE) -> IntakeSchema:
    """The schema; a bad file is a ConfigError naming the file, line and field."""
    return load_document(path, IntakeSchema, what="intake schema")
