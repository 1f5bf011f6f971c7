//! Kafka's message-spec language, read into plain Rust values.
//!
//! A spec file is JSON with whole-line `//` comments. Each names a message
//! (`request`, `response`, `header` or `data`), its valid and flexible
//! versions, and a tree of fields; struct types are defined inline (a field
//! with `fields`) or in `commonStructs`, and referenced by name elsewhere.

use serde_json::Value;
use std::collections::BTreeMap;

/// An inclusive version range; `None` means "no version".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions(pub Option<(i16, i16)>);

impl Versions {
    pub const NONE: Versions = Versions(None);
    pub const OPEN_MAX: i16 = i16::MAX;

    pub fn parse(text: &str) -> Result<Versions, String> {
        let text = text.trim();
        if text == "none" {
            return Ok(Versions::NONE);
        }
        let num = |s: &str| {
            s.trim()
                .parse::<i16>()
                .map_err(|e| format!("bad version {s:?}: {e}"))
        };
        if let Some(lo) = text.strip_suffix('+') {
            return Ok(Versions(Some((num(lo)?, Self::OPEN_MAX))));
        }
        if let Some((lo, hi)) = text.split_once('-') {
            return Ok(Versions(Some((num(lo)?, num(hi)?))));
        }
        let v = num(text)?;
        Ok(Versions(Some((v, v))))
    }

    pub fn is_none(&self) -> bool {
        self.0.is_none()
    }

    /// Restricts to `outer` (a field exists only where its message does).
    pub fn intersect(&self, outer: &Versions) -> Versions {
        match (self.0, outer.0) {
            (Some((a, b)), Some((c, d))) if a.max(c) <= b.min(d) => {
                Versions(Some((a.max(c), b.min(d))))
            }
            _ => Versions::NONE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Bool,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    F64,
    Uuid,
    String,
    Bytes,
    Records,
    Struct(String),
    Array(Box<Ty>),
}

impl Ty {
    fn parse(text: &str) -> Ty {
        if let Some(inner) = text.strip_prefix("[]") {
            return Ty::Array(Box::new(Ty::parse(inner)));
        }
        match text {
            "bool" => Ty::Bool,
            "int8" => Ty::I8,
            "int16" => Ty::I16,
            "uint16" => Ty::U16,
            "int32" => Ty::I32,
            "uint32" => Ty::U32,
            "int64" => Ty::I64,
            "float64" => Ty::F64,
            "uuid" => Ty::Uuid,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "records" => Ty::Records,
            other => Ty::Struct(other.to_owned()),
        }
    }

    /// Types that can be null on the wire.
    pub fn can_be_null(&self) -> bool {
        matches!(
            self,
            Ty::String | Ty::Bytes | Ty::Records | Ty::Struct(_) | Ty::Array(_)
        )
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub versions: Versions,
    pub nullable: Versions,
    pub tag: Option<u32>,
    pub default: Option<String>,
    pub ignorable: bool,
    pub entity: Option<String>,
    /// A field-level override of the message's flexible versions (the
    /// request header's client id stays a classic string in v2).
    pub flexible: Option<Versions>,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct StructDef {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub kind: String,
    pub api_key: Option<i16>,
    pub valid: Versions,
    pub flexible: Versions,
    pub listeners: Vec<String>,
    pub latest_version_unstable: bool,
    pub fields: Vec<Field>,
    /// Every struct the message defines, inline or common, by name.
    pub structs: BTreeMap<String, StructDef>,
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn parse_field(v: &Value) -> Result<Field, String> {
    let name = str_of(v, "name").ok_or("field without a name")?.to_owned();
    let ctx = |e: String| format!("field {name}: {e}");
    let ty = Ty::parse(str_of(v, "type").ok_or_else(|| ctx("no type".into()))?);
    let versions = Versions::parse(str_of(v, "versions").ok_or_else(|| ctx("no versions".into()))?)
        .map_err(ctx)?;
    let opt_versions = |key: &str| -> Result<Versions, String> {
        match str_of(v, key) {
            Some(t) => Versions::parse(t).map_err(ctx),
            None => Ok(Versions::NONE),
        }
    };
    let fields = match v.get("fields").and_then(Value::as_array) {
        Some(list) => list.iter().map(parse_field).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let default = match v.get("default") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let tagged = opt_versions("taggedVersions")?;
    let tag = v.get("tag").and_then(Value::as_u64).map(|t| t as u32);
    // Every spec so far tags a field in all its versions; a field tagged in
    // only some would need both encodings, which the emitter does not write.
    if tag.is_some() && tagged != versions {
        return Err(ctx("taggedVersions differ from versions".into()));
    }
    Ok(Field {
        ty,
        versions,
        nullable: opt_versions("nullableVersions")?,
        tag,
        default,
        ignorable: v.get("ignorable").and_then(Value::as_bool).unwrap_or(false),
        entity: str_of(v, "entityType").map(str::to_owned),
        flexible: match str_of(v, "flexibleVersions") {
            Some(t) => Some(Versions::parse(t).map_err(ctx)?),
            None => None,
        },
        fields,
        name,
    })
}

fn collect_structs(fields: &[Field], out: &mut BTreeMap<String, StructDef>) -> Result<(), String> {
    for f in fields {
        if f.fields.is_empty() {
            continue;
        }
        let name = match &f.ty {
            Ty::Struct(n) => n.clone(),
            Ty::Array(inner) => match inner.as_ref() {
                Ty::Struct(n) => n.clone(),
                _ => return Err(format!("field {} has fields but no struct type", f.name)),
            },
            _ => return Err(format!("field {} has fields but no struct type", f.name)),
        };
        if out.contains_key(&name) {
            return Err(format!("struct {name} is defined twice"));
        }
        out.insert(
            name.clone(),
            StructDef {
                name,
                fields: f.fields.clone(),
            },
        );
        collect_structs(&f.fields, out)?;
    }
    Ok(())
}

pub fn parse_spec(text: &str) -> Result<Spec, String> {
    let v: Value = serde_json::from_str(&strip_comments(text)).map_err(|e| e.to_string())?;
    let name = str_of(&v, "name").ok_or("spec without a name")?.to_owned();
    let fields = match v.get("fields").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .map(parse_field)
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let mut structs = BTreeMap::new();
    if let Some(common) = v.get("commonStructs").and_then(Value::as_array) {
        for c in common {
            let cname = str_of(c, "name")
                .ok_or("common struct without a name")?
                .to_owned();
            let cfields = match c.get("fields").and_then(Value::as_array) {
                Some(list) => list
                    .iter()
                    .map(parse_field)
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            collect_structs(&cfields, &mut structs)?;
            structs.insert(
                cname.clone(),
                StructDef {
                    name: cname,
                    fields: cfields,
                },
            );
        }
    }
    collect_structs(&fields, &mut structs)?;
    if structs.contains_key(&name) {
        return Err(format!("{name}: a struct has the message's own name"));
    }
    Ok(Spec {
        kind: str_of(&v, "type").ok_or("spec without a type")?.to_owned(),
        api_key: v.get("apiKey").and_then(Value::as_i64).map(|k| k as i16),
        valid: Versions::parse(str_of(&v, "validVersions").ok_or("no validVersions")?)?,
        flexible: Versions::parse(str_of(&v, "flexibleVersions").unwrap_or("none"))?,
        listeners: v
            .get("listeners")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        latest_version_unstable: v
            .get("latestVersionUnstable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        fields,
        structs,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_every_form() {
        assert_eq!(
            Versions::parse("3+").unwrap(),
            Versions(Some((3, i16::MAX)))
        );
        assert_eq!(Versions::parse("0-12").unwrap(), Versions(Some((0, 12))));
        assert_eq!(Versions::parse("5").unwrap(), Versions(Some((5, 5))));
        assert_eq!(Versions::parse("none").unwrap(), Versions::NONE);
        assert!(Versions::parse("x+").is_err());
    }
}
