//! The schema as data, for tests that must cover every operation: parsed from the SDL
//! the server exports with async-graphql's own parser, so a test driven by it fails
//! when it finds nothing rather than passing quietly.

use std::collections::BTreeMap;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

/// One argument or input field: its name and its type as written (`ID!`, `[ID!]`,
/// `CreateTaskInput!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub name: String,
    pub ty: String,
    /// The named type under the list and non-null wrappers.
    pub base: String,
}

/// A root field: `Query.cases`, `Mutation.createTask` …
#[derive(Debug, Clone)]
pub struct Operation {
    /// `Query` or `Mutation`.
    pub root: String,
    pub name: String,
    pub args: Vec<Input>,
}

/// The schema's object and input types.
pub struct Schema {
    pub operations: Vec<Operation>,
    /// Input object types and their fields.
    pub inputs: BTreeMap<String, Vec<Input>>,
}

fn base_of(t: &Type) -> String {
    match &t.base {
        BaseType::Named(n) => n.to_string(),
        BaseType::List(inner) => base_of(inner),
    }
}

fn input(name: &str, t: &Type) -> Input {
    Input {
        name: name.to_owned(),
        ty: t.to_string(),
        base: base_of(t),
    }
}

/// Parses the SDL of the running code.
pub fn schema() -> Schema {
    let doc = async_graphql::parser::parse_schema(gridwatch::graphql::sdl())
        .expect("the exported SDL parses");
    let mut operations = Vec::new();
    let mut inputs = BTreeMap::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let name = t.node.name.node.to_string();
        match &t.node.kind {
            TypeKind::Object(o) if name == "Query" || name == "Mutation" => {
                for f in &o.fields {
                    operations.push(Operation {
                        root: name.clone(),
                        name: f.node.name.node.to_string(),
                        args: f
                            .node
                            .arguments
                            .iter()
                            .map(|a| input(&a.node.name.node, &a.node.ty.node))
                            .collect(),
                    });
                }
            }
            TypeKind::InputObject(i) => {
                inputs.insert(
                    name,
                    i.fields
                        .iter()
                        .map(|f| input(&f.node.name.node, &f.node.ty.node))
                        .collect(),
                );
            }
            _ => {}
        }
    }
    assert!(
        operations.len() >= 35,
        "the SDL parser found only {} operations",
        operations.len()
    );
    Schema { operations, inputs }
}

impl Schema {
    /// Every input path of an operation whose named type is `base` (through input
    /// objects): `("createTask", "input.siteId")`.
    pub fn paths_of(&self, root: &str, base: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for op in self.operations.iter().filter(|o| o.root == root) {
            for a in &op.args {
                self.walk(&op.name, &a.name, a, base, &mut out, 0);
            }
        }
        out
    }

    fn walk(
        &self,
        op: &str,
        path: &str,
        i: &Input,
        base: &str,
        out: &mut Vec<(String, String)>,
        depth: usize,
    ) {
        if i.base == base {
            out.push((op.to_owned(), path.to_owned()));
        }
        if depth > 4 {
            return;
        }
        if let Some(fields) = self.inputs.get(&i.base) {
            for f in fields {
                self.walk(op, &format!("{path}.{}", f.name), f, base, out, depth + 1);
            }
        }
    }
}
