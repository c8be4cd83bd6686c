//! Objects of the hot lists resolved without a future per field.
//!
//! async-graphql resolves every field of an object in a boxed future of its own and
//! polls them through a `FuturesUnordered`: an allocation, a task node and a round of
//! wake-ups per field, even for an `id` that is only read from a struct. A page of a
//! hundred cases with their category, region, assignee and last event is about 1,800
//! such futures; perf of P2 put the engine's field machinery among the largest items
//! of a flat profile.
//!
//! `Fast<T>` is `T` to the schema (same name, same type information: the SDL does not
//! change) but resolves the fields that `T` names as inline one after another in the
//! object's own future, through the very resolvers the `#[Object]` macro generated
//! (`ContainerType::resolve_field`), so argument parsing, errors and their paths are
//! the engine's own. Fields that wait on their own I/O still get a future each and run
//! concurrently, as the engine runs them.
//!
//! What it assumes, and the engine would otherwise handle:
//! - no schema extensions (the request guard is not one; see `limits`): the engine's
//!   per-field extension hooks are not called;
//! - no custom directives: a field with a directive left after `@skip`/`@include` were
//!   applied (the engine strips those before execution) takes the engine's path;
//! - inline fields must not wait on anything slow: a resolver that awaits a loader is
//!   inline only where the loader was primed for the page (`Loaders::prime_cases`).
//!
//! Answers keep the engine's shape: errors are recorded and the field left out, equal
//! response keys are merged, and the key order is restored by the guard
//! (`limits::in_query_order`), as it is for the engine's completion order.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::futures_util::future::try_join_all;
use async_graphql::futures_util::stream::{FuturesUnordered, StreamExt as _};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_container;
use async_graphql::{
    Context, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerError,
    ServerResult, Value,
};

/// An object type whose cheap fields may be resolved inline.
pub trait Inline: ObjectType {
    /// Whether field `name` resolves without waiting on I/O of its own.
    fn inline(name: &str) -> bool;

    /// The value of a field this type resolves itself rather than through its
    /// `resolve_field` (a connection's `edges`, so each edge is resolved fast too);
    /// `None` for every other field. Asked for inline fields only.
    fn own<'a>(&'a self, _ctx: &'a Context<'a>) -> Option<OwnFuture<'a>> {
        None
    }
}

/// What [`Inline::own`] resolves a field to.
pub type OwnFuture<'a> = Pin<Box<dyn Future<Output = ServerResult<Option<Value>>> + Send + 'a>>;

/// A page's edges are resolved here, each edge with its node, without the engine's
/// container per edge; `nodes` and `pageInfo` are the connection's own.
impl<T: Inline> Inline for Connection<String, Fast<T>> {
    fn inline(_: &str) -> bool {
        true
    }

    fn own<'a>(&'a self, ctx: &'a Context<'a>) -> Option<OwnFuture<'a>> {
        if ctx.item.node.name.node != "edges" {
            return None;
        }
        Some(Box::pin(async move {
            let set = ctx.with_selection_set(&ctx.item.node.selection_set);
            let items = self.edges.iter().enumerate().map(|(i, edge)| {
                let at = set.with_index(i);
                async move { resolve(edge, &at).await.map_err(|e| at.set_error_path(e)) }
            });
            Ok(Some(Value::List(try_join_all(items).await?)))
        }))
    }
}

/// An edge's cursor and node (itself `Fast`) resolve inline.
impl<T: Inline> Inline for Edge<String, Fast<T>, EmptyFields> {
    fn inline(_: &str) -> bool {
        true
    }
}

/// `T`, resolved with its inline fields in one future (see the module doc).
pub struct Fast<T>(pub T);

impl<T: Inline> OutputType for Fast<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve(&self.0, ctx).await
    }
}

type FieldFuture<'a> = Pin<Box<dyn Future<Output = ServerResult<(Name, Value)>> + Send + 'a>>;

/// Resolves `obj` for the selection set of `ctx`.
pub async fn resolve<'a, T: Inline>(
    obj: &'a T,
    ctx: &ContextSelectionSet<'a>,
) -> ServerResult<Value> {
    if !ctx.schema_env.custom_directives.is_empty() {
        return resolve_container(ctx, obj).await;
    }
    let set: &'a SelectionSet = &ctx.item.node;
    let mut fields: Vec<&'a Positioned<Field>> = Vec::with_capacity(set.items.len());
    collect::<T>(ctx, set, &mut fields)?;

    let mut out = IndexMap::with_capacity(fields.len());
    let mut waiting: Vec<FieldFuture<'a>> = Vec::new();
    for field in fields {
        let key = field.node.response_key().node.clone();
        let name = field.node.name.node.as_str();
        if name == "__typename" {
            merge(
                &mut out,
                key,
                Value::String(obj.introspection_type_name().into_owned()),
            );
        } else if T::inline(name) && field.node.directives.is_empty() {
            let ctx_field = ctx.with_field(field);
            let value = match obj.own(&ctx_field) {
                Some(own) => own.await,
                None => obj.resolve_field(&ctx_field).await,
            };
            match value {
                Ok(value) => merge(&mut out, key, value.unwrap_or_default()),
                Err(e) => ctx.add_error(e),
            }
        } else {
            let ctx = ctx.clone();
            waiting.push(Box::pin(async move {
                let value = obj.resolve_field(&ctx.with_field(field)).await?;
                Ok((key, value.unwrap_or_default()))
            }));
        }
    }
    let mut settle = |res: ServerResult<(Name, Value)>| match res {
        Ok((key, value)) => merge(&mut out, key, value),
        Err(e) => ctx.add_error(e),
    };
    if waiting.len() == 1 {
        if let Some(fut) = waiting.pop() {
            settle(fut.await);
        }
    } else if !waiting.is_empty() {
        let mut set: FuturesUnordered<_> = waiting.into_iter().collect();
        while let Some(res) = set.next().await {
            settle(res);
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    })
}

/// The fields of `set` that apply to `T`, fragments expanded, in document order.
fn collect<'a, T: OutputType>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    out: &mut Vec<&'a Positioned<Field>>,
) -> ServerResult<()> {
    let fragments = &ctx.query_env.fragments;
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => out.push(field),
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = fragments.get(name) else {
                    return Err(ServerError::new(
                        format!(r#"Unknown fragment "{name}"."#),
                        Some(spread.pos),
                    ));
                };
                if applies::<T>(ctx, Some(&fragment.node.type_condition.node.on.node)) {
                    collect::<T>(ctx, &fragment.node.selection_set.node, out)?;
                }
            }
            Selection::InlineFragment(fragment) => {
                let on = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| &c.node.on.node);
                if applies::<T>(ctx, on) {
                    collect::<T>(ctx, &fragment.node.selection_set.node, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether a fragment with type condition `on` applies to an object of type `T`.
fn applies<T: OutputType>(ctx: &ContextSelectionSet<'_>, on: Option<&Name>) -> bool {
    let Some(on) = on else { return true };
    let name = T::type_name();
    *name == **on
        || ctx
            .schema_env
            .registry
            .implements
            .get(&*name)
            .is_some_and(|interfaces| interfaces.contains(on.as_str()))
}

/// Inserts a field's value, merging objects (and lists of objects) under a response
/// key that was selected twice, as the engine does.
fn merge(target: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    use async_graphql::indexmap::map::Entry;
    match target.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(value);
        }
        Entry::Occupied(mut slot) => match (slot.get_mut(), value) {
            (Value::Object(into), Value::Object(from)) => {
                for (k, v) in from {
                    merge(into, k, v);
                }
            }
            (Value::List(into), Value::List(from)) => {
                for (into, from) in into.iter_mut().zip(from) {
                    if let (Value::Object(into), Value::Object(from)) = (into, from) {
                        for (k, v) in from {
                            merge(into, k, v);
                        }
                    }
                }
            }
            _ => {}
        },
    }
}
