//! Turns a parsed spec into Rust source.
//!
//! Every struct gets: the type (schema names, snake_case fields, a
//! `unknown_tagged_fields` list), `Default` from the schema's defaults, the
//! `Message` impl (decode and encode at a version), and under the
//! `arbitrary` feature a proptest strategy that fills exactly the fields the
//! version carries. No prose from the specs is copied.

use crate::spec::{Field, Spec, Ty, Versions};
use std::fmt::Write as _;

pub fn snake(name: &str) -> String {
    let name = name.replace("KRaft", "Kraft");
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn ident(name: &str) -> String {
    let s = snake(name);
    match s.as_str() {
        "type" | "match" | "ref" | "move" | "fn" | "mod" | "use" | "loop" | "in" | "as"
        | "impl" | "self" | "super" | "crate" | "struct" | "enum" | "trait" | "where" | "async"
        | "await" | "dyn" | "static" | "const" | "gen" | "try" => format!("r#{s}"),
        _ => s,
    }
}

/// The domain type an `entityType` maps to, where the wire type fits it.
fn entity_type(entity: Option<&str>, base: &Ty) -> Option<&'static str> {
    match (entity?, base) {
        ("topicName", Ty::String) => Some("crate::types::TopicName"),
        ("groupId", Ty::String) => Some("crate::types::GroupId"),
        ("transactionalId", Ty::String) => Some("crate::types::TransactionalId"),
        ("brokerId", Ty::I32) => Some("crate::types::BrokerId"),
        ("producerId", Ty::I64) => Some("crate::types::ProducerId"),
        _ => None,
    }
}

/// The whole range, unsimplified: a message checks the version it is given.
fn range_test(valid: &Versions) -> String {
    match valid.0 {
        Some((lo, hi)) => format!("({lo}..={hi}).contains(&version)"),
        None => "false".into(),
    }
}

struct Ctx<'a> {
    spec: &'a Spec,
    /// The versions this message exists in; field tests are simplified within it.
    valid: Versions,
}

impl Ctx<'_> {
    /// A boolean expression: is `v` (a valid version) inside `range`?
    fn test(&self, range: &Versions) -> String {
        let Some((vlo, vhi)) = self.valid.0 else {
            return "false".into();
        };
        match range.intersect(&self.valid).0 {
            None => "false".into(),
            Some((lo, hi)) if lo <= vlo && hi >= vhi => "true".into(),
            Some((lo, hi)) if lo <= vlo => format!("version <= {hi}"),
            Some((lo, hi)) if hi >= vhi => format!("version >= {lo}"),
            Some((lo, hi)) if lo == hi => format!("version == {lo}"),
            Some((lo, hi)) => format!("({lo}..={hi}).contains(&version)"),
        }
    }

    /// The compactness expression for a field (`flexible` unless overridden).
    fn compact(&self, f: &Field) -> String {
        match &f.flexible {
            Some(v) => self.test(v),
            None => "flexible".into(),
        }
    }
}

fn elem_rust(ty: &Ty, entity: Option<&str>) -> String {
    if let Some(e) = entity_type(entity, ty) {
        return e.to_owned();
    }
    match ty {
        Ty::Bool => "bool".into(),
        Ty::I8 => "i8".into(),
        Ty::I16 => "i16".into(),
        Ty::U16 => "u16".into(),
        Ty::I32 => "i32".into(),
        Ty::U32 => "u32".into(),
        Ty::I64 => "i64".into(),
        Ty::F64 => "f64".into(),
        Ty::Uuid => "crate::types::Uuid".into(),
        Ty::String => "String".into(),
        Ty::Bytes | Ty::Records => "bytes::Bytes".into(),
        Ty::Struct(n) => n.clone(),
        Ty::Array(inner) => format!("Vec<{}>", elem_rust(inner, entity)),
    }
}

fn is_optional(f: &Field) -> bool {
    f.ty.can_be_null() && !f.nullable.is_none()
}

fn field_rust(f: &Field) -> String {
    let base = elem_rust(&f.ty, f.entity.as_deref());
    if is_optional(f) {
        format!("Option<{base}>")
    } else {
        base
    }
}

fn int_literal(text: &str, ty: &Ty) -> String {
    let t = text.trim();
    let parsed: Option<i128> = if let Some(hex) = t.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()
    } else if let Some(hex) = t.strip_prefix("-0x") {
        i128::from_str_radix(hex, 16).ok().map(|v| -v)
    } else {
        t.parse().ok()
    };
    let v = parsed.unwrap_or(0);
    let suffix = match ty {
        Ty::I8 => "i8",
        Ty::I16 => "i16",
        Ty::U16 => "u16",
        Ty::I32 => "i32",
        Ty::U32 => "u32",
        _ => "i64",
    };
    format!("{v}{suffix}")
}

fn default_expr(f: &Field) -> String {
    let d = f.default.as_deref();
    if is_optional(f) && d == Some("null") {
        return "None".into();
    }
    let entity = entity_type(f.entity.as_deref(), &f.ty);
    let base = match &f.ty {
        Ty::Bool => (d == Some("true")).to_string(),
        Ty::I8 | Ty::I16 | Ty::U16 | Ty::I32 | Ty::U32 | Ty::I64 => {
            int_literal(d.unwrap_or("0"), &f.ty)
        }
        Ty::F64 => {
            let v: f64 = d.and_then(|s| s.parse().ok()).unwrap_or(0.0);
            format!("{v:?}f64")
        }
        Ty::Uuid => "crate::types::Uuid::ZERO".into(),
        Ty::String => match d {
            None | Some("") => "String::new()".into(),
            Some(s) => format!("String::from({s:?})"),
        },
        Ty::Bytes | Ty::Records => "bytes::Bytes::new()".into(),
        Ty::Struct(n) => format!("{n}::default()"),
        Ty::Array(inner) => format!("Vec::<{}>::new()", elem_rust(inner, f.entity.as_deref())),
    };
    let base = match entity {
        Some(e) => format!("{e}({base})"),
        None => base,
    };
    if is_optional(f) {
        format!("Some({base})")
    } else {
        base
    }
}

/// Expression decoding one non-null value of `ty` from `buf`.
fn decode_value(ty: &Ty, entity: Option<&str>, compact: &str) -> String {
    let raw = match ty {
        Ty::Bool => "crate::wire::get_bool(buf)?".into(),
        Ty::I8 => "crate::wire::get_i8(buf)?".into(),
        Ty::I16 => "crate::wire::get_i16(buf)?".into(),
        Ty::U16 => "crate::wire::get_u16(buf)?".into(),
        Ty::I32 => "crate::wire::get_i32(buf)?".into(),
        Ty::U32 => "crate::wire::get_u32(buf)?".into(),
        Ty::I64 => "crate::wire::get_i64(buf)?".into(),
        Ty::F64 => "crate::wire::get_f64(buf)?".into(),
        Ty::Uuid => "crate::wire::get_uuid(buf)?".into(),
        Ty::String => format!("crate::wire::get_string(buf, {compact})?"),
        Ty::Bytes | Ty::Records => format!("crate::wire::get_bytes(buf, {compact})?"),
        Ty::Struct(n) => format!("<{n} as crate::message::Message>::decode(buf, version)?"),
        Ty::Array(inner) => {
            let el = decode_value(inner, entity, compact);
            return format!(
                "{{ let n = crate::wire::get_array_len(buf, {compact})?.ok_or_else(|| crate::DecodeError::malformed(crate::Malformed::UnexpectedNull))?; \
                 let mut items = Vec::with_capacity(n); for _ in 0..n {{ items.push({el}); }} items }}"
            );
        }
    };
    match entity_type(entity, ty) {
        Some(e) => format!("{e}({raw})"),
        None => raw,
    }
}

/// Expression decoding a value that may be null, giving an `Option`.
fn decode_nullable(ty: &Ty, entity: Option<&str>, compact: &str) -> String {
    match ty {
        Ty::String => {
            let wrap = match entity_type(entity, ty) {
                Some(e) => format!(".map({e})"),
                None => String::new(),
            };
            format!("crate::wire::get_nullable_string(buf, {compact})?{wrap}")
        }
        Ty::Bytes | Ty::Records => format!("crate::wire::get_nullable_bytes(buf, {compact})?"),
        Ty::Struct(n) => format!(
            "if crate::wire::get_i8(buf)? < 0 {{ None }} else {{ Some(<{n} as crate::message::Message>::decode(buf, version)?) }}"
        ),
        Ty::Array(inner) => {
            let el = decode_value(inner, entity, compact);
            format!(
                "match crate::wire::get_array_len(buf, {compact})? {{ None => None, Some(n) => {{ \
                 let mut items = Vec::with_capacity(n); for _ in 0..n {{ items.push({el}); }} Some(items) }} }}"
            )
        }
        _ => format!("Some({})", decode_value(ty, entity, compact)),
    }
}

/// Statements writing the value behind `v`, a variable holding a reference.
fn encode_value(ty: &Ty, entity: Option<&str>, v: &str, compact: &str, label: &str) -> String {
    let inner = if entity_type(entity, ty).is_some() {
        format!("{v}.0")
    } else {
        format!("*{v}")
    };
    match ty {
        Ty::Bool => format!("crate::wire::put_bool(buf, {inner});"),
        Ty::I8 => format!("buf.put_i8({inner});"),
        Ty::I16 => format!("buf.put_i16({inner});"),
        Ty::U16 => format!("buf.put_u16({inner});"),
        Ty::I32 => format!("buf.put_i32({inner});"),
        Ty::U32 => format!("buf.put_u32({inner});"),
        Ty::I64 => format!("buf.put_i64({inner});"),
        Ty::F64 => format!("buf.put_f64({inner});"),
        Ty::Uuid => format!("crate::wire::put_uuid(buf, {v});"),
        Ty::String => {
            let s = if entity_type(entity, ty).is_some() {
                format!("{v}.0.as_str()")
            } else {
                format!("{v}.as_str()")
            };
            format!("crate::wire::put_nullable_string(buf, Some({s}), {compact}, {label:?})?;")
        }
        Ty::Bytes | Ty::Records => {
            format!("crate::wire::put_nullable_bytes(buf, Some(&{v}[..]), {compact}, {label:?})?;")
        }
        Ty::Struct(_) => format!("crate::message::Message::encode({v}, buf, version)?;"),
        Ty::Array(el_ty) => {
            let el = encode_value(el_ty, entity, "item", compact, label);
            format!(
                "crate::wire::put_array_len(buf, Some({v}.len()), {compact}); for item in {v}.iter() {{ {el} }}"
            )
        }
    }
}

fn encode_null(ty: &Ty, compact: &str, label: &str) -> String {
    match ty {
        Ty::String => {
            format!("crate::wire::put_nullable_string(buf, None, {compact}, {label:?})?;")
        }
        Ty::Bytes | Ty::Records => {
            format!("crate::wire::put_nullable_bytes(buf, None, {compact}, {label:?})?;")
        }
        Ty::Struct(_) => "buf.put_i8(-1);".into(),
        Ty::Array(_) => format!("crate::wire::put_array_len(buf, None, {compact});"),
        _ => unreachable_null(),
    }
}

fn unreachable_null() -> String {
    // Only nullable wire types reach here (`Ty::can_be_null`).
    "compile_error!(\"null of a non-nullable type\");".into()
}

/// Statements writing field `f` (present at this version).
fn encode_field(ctx: &Ctx, f: &Field, owner: &str, compact: &str) -> String {
    let id = ident(&f.name);
    let label = format!("{owner}.{id}");
    let ent = f.entity.as_deref();
    if !is_optional(f) {
        let body = encode_value(&f.ty, ent, "value", compact, &label);
        return format!("{{ let value = &self.{id}; {body} }}");
    }
    let some = encode_value(&f.ty, ent, "value", compact, &label);
    let some = if matches!(f.ty, Ty::Struct(_)) {
        format!("buf.put_i8(1); {some}")
    } else {
        some
    };
    let null = encode_null(&f.ty, compact, &label);
    let nullable = ctx.test(&f.nullable);
    format!(
        "match &self.{id} {{ Some(value) => {{ {some} }} None => {{ if {nullable} {{ {null} }} else {{ return Err(crate::EncodeError::NullNotAllowed {{ field: {label:?}, version }}); }} }} }}"
    )
}

fn decode_field(ctx: &Ctx, f: &Field, compact: &str) -> String {
    let ent = f.entity.as_deref();
    if !is_optional(f) {
        return decode_value(&f.ty, ent, compact);
    }
    let nullable = ctx.test(&f.nullable);
    let non_null = decode_value(&f.ty, ent, compact);
    let maybe = decode_nullable(&f.ty, ent, compact);
    if nullable == "true" {
        maybe
    } else if nullable == "false" {
        format!("Some({non_null})")
    } else {
        format!("if {nullable} {{ {maybe} }} else {{ Some({non_null}) }}")
    }
}

fn strategy_value(ty: &Ty, entity: Option<&str>) -> String {
    let raw = match ty {
        Ty::Bool => "proptest::bool::ANY.boxed()".into(),
        Ty::I8 => "proptest::num::i8::ANY.boxed()".into(),
        Ty::I16 => "proptest::num::i16::ANY.boxed()".into(),
        Ty::U16 => "proptest::num::u16::ANY.boxed()".into(),
        Ty::I32 => "proptest::num::i32::ANY.boxed()".into(),
        Ty::U32 => "proptest::num::u32::ANY.boxed()".into(),
        Ty::I64 => "proptest::num::i64::ANY.boxed()".into(),
        Ty::F64 => "crate::arbitrary::f64()".into(),
        Ty::Uuid => "crate::arbitrary::uuid()".into(),
        Ty::String => "crate::arbitrary::string()".into(),
        Ty::Bytes | Ty::Records => "crate::arbitrary::bytes()".into(),
        Ty::Struct(n) => format!("{n}::arbitrary(version)"),
        Ty::Array(inner) => {
            return format!(
                "proptest::collection::vec({}, 0..3).boxed()",
                strategy_value(inner, entity)
            );
        }
    };
    match entity_type(entity, ty) {
        Some(e) => format!("{raw}.prop_map({e}).boxed()"),
        None => raw,
    }
}

fn strategy_field(ctx: &Ctx, f: &Field) -> String {
    let present = ctx.test(&f.versions);
    let value = strategy_value(&f.ty, f.entity.as_deref());
    let value = if is_optional(f) {
        let nullable = ctx.test(&f.nullable);
        format!(
            "if {nullable} {{ proptest::option::of({value}).boxed() }} else {{ {value}.prop_map(Some).boxed() }}"
        )
    } else {
        value
    };
    format!(
        "if {present} {{ {value} }} else {{ proptest::strategy::Just({}).boxed() }}",
        default_expr(f)
    )
}

/// Nests strategies in tuples of at most 8, since proptest stops at 12.
fn nest(items: &[String]) -> (String, String) {
    fn go(items: &[(String, String)]) -> (String, String) {
        if items.len() <= 8 {
            let s = items
                .iter()
                .map(|i| i.0.clone())
                .collect::<Vec<_>>()
                .join(", ");
            let p = items
                .iter()
                .map(|i| i.1.clone())
                .collect::<Vec<_>>()
                .join(", ");
            return (format!("({s},)"), format!("({p},)"));
        }
        let groups: Vec<(String, String)> = items.chunks(8).map(go).collect();
        go(&groups)
    }
    let pairs: Vec<(String, String)> = items
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), format!("f{i}")))
        .collect();
    go(&pairs)
}

fn emit_struct(out: &mut String, ctx: &Ctx, name: &str, fields: &[Field], top: bool) {
    let spec = ctx.spec;
    let flexible = ctx.test(&spec.flexible);
    // Fields, in wire order; tagged fields ride in the trailing tag section.
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, PartialEq)]\npub struct {name} {{"
    );
    for f in fields {
        let _ = writeln!(out, "    pub {}: {},", ident(&f.name), field_rust(f));
    }
    let _ = writeln!(
        out,
        "    pub unknown_tagged_fields: Vec<crate::types::RawTaggedField>,\n}}\n"
    );

    let _ = writeln!(
        out,
        "impl Default for {name} {{\n    fn default() -> Self {{\n        Self {{"
    );
    for f in fields {
        let _ = writeln!(out, "            {}: {},", ident(&f.name), default_expr(f));
    }
    let _ = writeln!(
        out,
        "            unknown_tagged_fields: Vec::new(),\n        }}\n    }}\n}}\n"
    );

    // Decode.
    let _ = writeln!(out, "impl crate::message::Message for {name} {{");
    let _ = writeln!(
        out,
        "    fn decode(buf: &mut bytes::Bytes, version: i16) -> Result<Self, crate::DecodeError> {{"
    );
    if top {
        let _ = writeln!(
            out,
            "        if !({}) {{ return Err(crate::DecodeError::malformed(crate::Malformed::UnsupportedVersion {{ api_key: {}, version }})); }}",
            range_test(&spec.valid),
            spec.api_key.unwrap_or(-1)
        );
    }
    let _ = writeln!(out, "        let flexible = {flexible};");
    let _ = writeln!(out, "        let mut this = Self::default();");
    for f in fields.iter().filter(|f| f.tag.is_none()) {
        let id = ident(&f.name);
        let present = ctx.test(&f.versions);
        if present == "false" {
            continue;
        }
        let compact = ctx.compact(f);
        let expr = decode_field(ctx, f, &compact);
        let _ = writeln!(
            out,
            "        if {present} {{ this.{id} = (|buf: &mut bytes::Bytes| -> Result<_, crate::DecodeError> {{ Ok({expr}) }})(buf).map_err(|e| e.in_field(\"{name}.{id}\"))?; }}"
        );
    }
    let _ = writeln!(out, "        if flexible {{");
    let _ = writeln!(
        out,
        "            let count = crate::wire::get_uvarint(buf).map_err(|e| e.in_field(\"{name}.tagged_fields\"))?;"
    );
    let _ = writeln!(out, "            for _ in 0..count {{");
    let _ = writeln!(
        out,
        "                let (tag, mut data) = crate::wire::get_tagged_field(buf).map_err(|e| e.in_field(\"{name}.tagged_fields\"))?;"
    );
    let _ = writeln!(out, "                match tag {{");
    for f in fields.iter().filter(|f| f.tag.is_some()) {
        let id = ident(&f.name);
        let tag = f.tag.unwrap_or(0);
        let present = ctx.test(&f.versions);
        let expr = decode_field(ctx, f, "true");
        let guard = if present == "true" {
            String::new()
        } else {
            format!(" if {present}")
        };
        let _ = writeln!(
            out,
            "                    {tag}{guard} => {{ let buf = &mut data; this.{id} = (|buf: &mut bytes::Bytes| -> Result<_, crate::DecodeError> {{ Ok({expr}) }})(buf).map_err(|e| e.in_field(\"{name}.{id}\"))?; crate::wire::expect_consumed(buf).map_err(|e| e.in_field(\"{name}.{id}\"))?; }}"
        );
    }
    let _ = writeln!(
        out,
        "                    _ => this.unknown_tagged_fields.push(crate::types::RawTaggedField {{ tag, data }}),"
    );
    let _ = writeln!(out, "                }}\n            }}\n        }}");
    let _ = writeln!(out, "        Ok(this)\n    }}\n");

    // Encode.
    let _ = writeln!(
        out,
        "    fn encode(&self, buf: &mut bytes::BytesMut, version: i16) -> Result<(), crate::EncodeError> {{"
    );
    let _ = writeln!(out, "        use bytes::BufMut as _;");
    if top {
        let _ = writeln!(
            out,
            "        if !({}) {{ return Err(crate::EncodeError::UnsupportedVersion {{ message: {name:?}, version }}); }}",
            range_test(&spec.valid)
        );
    }
    let _ = writeln!(out, "        let flexible = {flexible};");
    for f in fields.iter().filter(|f| f.tag.is_none()) {
        let id = ident(&f.name);
        let present = ctx.test(&f.versions);
        let body = if present == "false" {
            String::new()
        } else {
            encode_field(ctx, f, name, &ctx.compact(f))
        };
        let absent = if f.ignorable {
            String::new()
        } else {
            format!(
                "if self.{id} != {} {{ return Err(crate::EncodeError::UnsupportedField {{ field: \"{name}.{id}\", version }}); }}",
                default_expr(f)
            )
        };
        match present.as_str() {
            "true" => {
                let _ = writeln!(out, "        {body}");
            }
            "false" => {
                if !absent.is_empty() {
                    let _ = writeln!(out, "        {absent}");
                }
            }
            _ if absent.is_empty() => {
                let _ = writeln!(out, "        if {present} {{ {body} }}");
            }
            _ => {
                let _ = writeln!(out, "        if {present} {{ {body} }} else {{ {absent} }}");
            }
        }
    }
    let _ = writeln!(out, "        if flexible {{");
    let _ = writeln!(
        out,
        "            let mut known: Vec<(u32, bytes::BytesMut)> = Vec::new();"
    );
    for f in fields.iter().filter(|f| f.tag.is_some()) {
        let id = ident(&f.name);
        let tag = f.tag.unwrap_or(0);
        let present = ctx.test(&f.versions);
        let body = encode_field(ctx, f, name, "true");
        let _ = writeln!(
            out,
            "            if ({present}) && self.{id} != {} {{ let mut tagged = bytes::BytesMut::new(); {{ let buf = &mut tagged; {body} }} known.push(({tag}, tagged)); }}",
            default_expr(f)
        );
    }
    let _ = writeln!(
        out,
        "            crate::wire::put_tagged_fields(buf, known, &self.unknown_tagged_fields);"
    );
    // Unknown tagged fields cannot be carried by a classic version.
    let _ = writeln!(
        out,
        "        }} else if !self.unknown_tagged_fields.is_empty() {{ return Err(crate::EncodeError::UnsupportedField {{ field: \"{name}.unknown_tagged_fields\", version }}); }}"
    );
    let _ = writeln!(out, "        Ok(())\n    }}\n}}\n");

    // Strategy.
    let _ = writeln!(
        out,
        "#[cfg(any(test, feature = \"arbitrary\"))]\nimpl {name} {{"
    );
    let _ = writeln!(
        out,
        "    /// Values that version `version` can carry, for property tests."
    );
    let _ = writeln!(
        out,
        "    pub fn arbitrary(version: i16) -> proptest::strategy::BoxedStrategy<Self> {{"
    );
    let _ = writeln!(out, "        use proptest::strategy::Strategy as _;");
    let known_tags: Vec<u32> = fields.iter().filter_map(|f| f.tag).collect();
    let mut strategies: Vec<String> = fields.iter().map(|f| strategy_field(ctx, f)).collect();
    strategies.push(format!(
        "crate::arbitrary::unknown_tagged_fields({flexible}, &{known_tags:?})"
    ));
    let (tuple, pattern) = nest(&strategies);
    let _ = writeln!(out, "        {tuple}.prop_map(|{pattern}| Self {{");
    for (i, f) in fields.iter().enumerate() {
        let _ = writeln!(out, "            {}: f{i},", ident(&f.name));
    }
    let _ = writeln!(
        out,
        "            unknown_tagged_fields: f{},\n        }}).boxed()\n    }}\n}}\n",
        fields.len()
    );
}

/// The module for one spec (one side of an API, a header, or a data type).
pub fn emit_spec(spec: &Spec) -> String {
    let ctx = Ctx {
        spec,
        valid: spec.valid,
    };
    let mut out = String::new();
    emit_struct(
        &mut out,
        &ctx,
        &spec.name,
        &spec.fields,
        spec.api_key.is_some(),
    );
    for def in spec.structs.values() {
        emit_struct(&mut out, &ctx, &def.name, &def.fields, false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_follows_kafka_names() {
        assert_eq!(snake("ThrottleTimeMs"), "throttle_time_ms");
        assert_eq!(snake("TopicId"), "topic_id");
        assert_eq!(snake("KRaftVersion"), "kraft_version");
        assert_eq!(snake("ISRVersion"), "isr_version");
        assert_eq!(snake("Produce"), "produce");
        assert_eq!(ident("Type"), "r#type");
    }
}
