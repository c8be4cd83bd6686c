//! What a request may ask for, checked before anything runs, and how long it may take.
//!
//! One extension, [`RequestGuard`], does per request:
//!
//! 1. **Text** — every string in the request (variables and literals, at any nesting)
//!    is refused with `BAD_INPUT`/`CONTROL_CHARACTER` when it holds a control
//!    character other than tab, line feed and carriage return (NUL included), so the
//!    two databases can never disagree about what was stored.
//! 2. **Cost** — an upper bound of how many values the answer can hold, counted over
//!    the document with fragments inlined at every spread:
//!    `cost(field) = 1 + items(field) × max(cost(selection), 1 if a list)`.
//!    `items` is 1 for a single object; for a connection it is `first` (default 20,
//!    capped at `limits.max_page_size`); for other lists the bound declared in
//!    [`list_bound`] (a domain limit, such as the events of a case, or the largest
//!    fan-out of the loaded region tree for `regions`/`children`). Cyclic edges such
//!    as `children { parent { children … } }` pay the fan-out at every turn. A query
//!    over `limits.max_complexity` is `BAD_INPUT`/`TOO_COMPLEX` before it runs.
//!    The same walk counts depth (introspection excluded: its shape is fixed and its
//!    size bounded by the schema) and aliases (a fragment's aliases count at every
//!    spread).
//! 3. **Time** — the execution gets `limits.request_timeout_secs`; past it the answer
//!    is `UNAVAILABLE`/`TIMEOUT`. Writes run to completion in their own task, so a
//!    retry with the same idempotency key returns their result.
//! 4. **Order** — the answer's keys are put in the order the query asked for them
//!    (the executor resolves fields concurrently and inserts them as they finish).
//!
//! The size of the serialized answer is capped at the HTTP edge
//! (`limits.max_response_bytes`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
    VariableDefinition,
};
use async_graphql::registry::{MetaTypeName, Registry};
use async_graphql::{Name, Positioned, Response, ServerError, ServerResult, Variables};
use async_graphql_value::{ConstValue, Value};

use crate::domain;
use crate::error::{AppError, Msg};
use crate::state::AppState;

/// The limits of one request, from `[limits]`.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Deepest selection (introspection excluded).
    pub max_depth: usize,
    /// Highest cost (an upper bound of the values in the answer).
    pub max_cost: u64,
    /// Most aliased fields, counted at every fragment spread.
    pub max_aliases: usize,
    /// Largest `first`.
    pub max_page_size: usize,
    /// Time budget of the execution.
    pub timeout: Duration,
}

/// The extension factory; see the module documentation.
pub struct RequestGuard {
    /// The limits.
    pub limits: RequestLimits,
}

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExt {
            limits: self.limits,
            doc: Mutex::new(None),
        })
    }
}

struct GuardExt {
    limits: RequestLimits,
    /// The parsed document, kept to put the answer's keys in query order.
    doc: Mutex<Option<ExecutableDocument>>,
}

fn refuse(err: AppError) -> ServerError {
    let mut e = ServerError::new(err.message(crate::error::Lang::Zh), None);
    e.source = Some(Arc::new(err));
    e
}

fn too_complex(zh: String, en: String) -> ServerError {
    refuse(AppError::BadInput {
        msg: Msg::new(zh, en),
        detail: Some("TOO_COMPLEX"),
        field: None,
    })
}

#[async_trait::async_trait]
impl Extension for GuardExt {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let Some(path) = find_control_char_in_variables(variables) {
            return Err(refuse(control_char_error(&path)));
        }
        if let Some(path) = find_control_char_in_document(&doc) {
            return Err(refuse(control_char_error(&path)));
        }
        let fanout = ctx
            .data::<AppState>()
            .map(|s| s.services.grid.snapshot().max_fanout())
            .unwrap_or(0);
        let m = measure(
            &ctx.schema_env.registry,
            &doc,
            variables,
            fanout,
            &self.limits,
        );
        let l = &self.limits;
        if m.cost > l.max_cost {
            let shown = if m.cost == u64::MAX {
                "∞".to_owned()
            } else {
                m.cost.to_string()
            };
            return Err(too_complex(
                format!(
                    "查询过于复杂：最多可能返回 {shown} 个值，上限为 {}。请减少嵌套的列表或 first",
                    l.max_cost
                ),
                format!(
                    "query too complex: it could return {shown} values, the limit is {}; \
                     ask for fewer nested lists or a smaller first",
                    l.max_cost
                ),
            ));
        }
        if m.depth > l.max_depth {
            return Err(too_complex(
                format!("查询嵌套过深（{} 层，最多 {} 层）", m.depth, l.max_depth),
                format!(
                    "query too deep ({} levels, at most {})",
                    m.depth, l.max_depth
                ),
            ));
        }
        if m.aliases > l.max_aliases {
            return Err(too_complex(
                format!("查询使用的别名过多（最多 {} 个）", l.max_aliases),
                format!(
                    "too many aliases in one request (at most {})",
                    l.max_aliases
                ),
            ));
        }
        // Kept to put the answer's keys in query order, unless the request carries the
        // cached tree already.
        if ctx.data_opt::<super::documents::Parsed>().is_none()
            && let Ok(mut slot) = self.doc.lock()
        {
            *slot = Some(doc.clone());
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut resp =
            match tokio::time::timeout(self.limits.timeout, next.run(ctx, operation_name)).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(
                        budget_ms = self.limits.timeout.as_millis() as u64,
                        "request ran past its time budget"
                    );
                    return Response::from_errors(vec![refuse(AppError::TimedOut)]);
                }
            };
        let cached = ctx
            .data_opt::<super::documents::Parsed>()
            .map(|p| Arc::clone(&p.0));
        let doc = cached.or_else(|| {
            self.doc
                .lock()
                .ok()
                .and_then(|mut d| d.take().map(Arc::new))
        });
        if let Some(doc) = doc
            && let Some(op) = operation(&doc, operation_name)
        {
            reorder(&mut resp.data, &[&op.selection_set.node], &doc, 0);
        }
        resp
    }
}

// ------------------------------------------------------------------ control characters

/// A character no text input may hold: C0 controls other than tab, LF and CR, DEL, and
/// the C1 controls.
pub fn is_forbidden_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

fn control_char_error(path: &str) -> AppError {
    AppError::BadInput {
        msg: Msg::new(
            format!("输入 {path} 含有不允许的控制字符（如 NUL），请删除后重试"),
            format!("input {path} contains a control character (such as NUL); remove it"),
        ),
        detail: Some("CONTROL_CHARACTER"),
        field: Some(path.to_owned()),
    }
}

fn find_in_value(v: &ConstValue, path: &mut Vec<String>) -> bool {
    match v {
        ConstValue::String(s) => s.chars().any(is_forbidden_char),
        ConstValue::List(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(i.to_string());
            let found = find_in_value(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        ConstValue::Object(map) => map.iter().any(|(k, item)| {
            path.push(k.to_string());
            let found = find_in_value(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

fn find_in_literal(v: &Value, path: &mut Vec<String>) -> bool {
    match v {
        Value::String(s) => s.chars().any(is_forbidden_char),
        Value::List(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(i.to_string());
            let found = find_in_literal(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(k, item)| {
            path.push(k.to_string());
            let found = find_in_literal(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

/// The path (`$input.description`) of the first variable holding a forbidden character.
fn find_control_char_in_variables(vars: &Variables) -> Option<String> {
    for (name, v) in vars.iter() {
        let mut path = vec![format!("${name}")];
        if find_in_value(v, &mut path) {
            return Some(path.join("."));
        }
    }
    None
}

fn find_in_set(set: &SelectionSet, path: &mut Vec<String>) -> bool {
    set.items.iter().any(|s| match &s.node {
        Selection::Field(f) => {
            let f = &f.node;
            let args = f.arguments.iter().any(|(name, value)| {
                path.push(format!("{}.{}", f.name.node, name.node));
                let found = find_in_literal(&value.node, path);
                if !found {
                    path.pop();
                }
                found
            });
            args || find_in_set(&f.selection_set.node, path)
        }
        Selection::InlineFragment(i) => find_in_set(&i.node.selection_set.node, path),
        Selection::FragmentSpread(_) => false,
    })
}

/// The path (`submitTip.input.description`) of the first literal argument holding a
/// forbidden character, or of a variable default holding one.
fn find_control_char_in_document(doc: &ExecutableDocument) -> Option<String> {
    let mut path = Vec::new();
    for (_, op) in doc.operations.iter() {
        for def in &op.node.variable_definitions {
            if let Some(default) = &def.node.default_value {
                path.push(format!("${}", def.node.name.node));
                if find_in_value(&default.node, &mut path) {
                    return Some(path.join("."));
                }
                path.clear();
            }
        }
        if find_in_set(&op.node.selection_set.node, &mut path) {
            return Some(path.join("."));
        }
    }
    for frag in doc.fragments.values() {
        if find_in_set(&frag.node.selection_set.node, &mut path) {
            return Some(path.join("."));
        }
    }
    None
}

// ------------------------------------------------------------------------- cost

/// How many items a list field can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListBound {
    /// A connection page: its `first` argument.
    Page,
    /// The largest fan-out of the region tree now loaded.
    GridFanout,
    /// A fixed bound the domain enforces.
    Fixed(u64),
}

/// What `__schema` costs: the whole introspection answer is bounded by the size of the
/// schema (a test checks this bound against the real answer).
pub const INTROSPECTION_SCHEMA_COST: u64 = 20_000;
/// What `__type(name:)` costs.
pub const INTROSPECTION_TYPE_COST: u64 = 500;
/// The bound used for a list field with no declared bound (a test makes sure every
/// list field of the schema has one; this only guards against a slip).
const UNDECLARED_LIST_BOUND: u64 = 1_000;
/// Fields visited before the walk gives up (a fragment bomb cannot make it slow).
const MAX_VISITS: u64 = 50_000;

/// The declared bound of a list field, `None` for fields that are not lists.
///
/// Connection types (`…Connection.edges/nodes`) count one item here because the field
/// returning the connection multiplies by `first` already.
pub fn list_bound(parent: &str, field: &str) -> Option<ListBound> {
    use domain::{cases, category, evidence};
    let b = match (parent, field) {
        (p, "edges" | "nodes") if p.ends_with("Connection") => ListBound::Fixed(1),
        // Any field with a `first` argument that returns a connection is a page too.
        ("Query", "cases" | "myTasks" | "users" | "publicCases" | "sites") | ("Site", "cases") => {
            ListBound::Page
        }
        ("Query", "regions") | ("Region", "children") => ListBound::GridFanout,
        ("Query", "categories") | ("Changes", "categories") => {
            ListBound::Fixed(category::MAX_ACTIVE)
        }
        ("Changes", "cases" | "removed") => ListBound::Fixed(domain::changes::MAX_PAGE),
        ("Category", "timeLimits") => ListBound::Fixed(category::MAX_TIME_LIMITS),
        ("Query", "myTips") => ListBound::Fixed(cases::MY_TIPS_LISTED),
        ("Case", "events") | ("PublicCase", "notes") => ListBound::Fixed(cases::MAX_EVENTS_LISTED),
        ("Case", "possibleDuplicates") => ListBound::Fixed(cases::MAX_DUPLICATES_LISTED),
        ("Case", "evidence") | ("PublicCase" | "DisclosedCase", "photos") => {
            ListBound::Fixed(evidence::MAX_PER_CASE)
        }
        ("Evidence", "flags") => ListBound::Fixed(8),
        ("Stats", "rows") | ("Ranking", "regions" | "inspectors") => {
            ListBound::Fixed(domain::stats::MAX_ROWS as u64)
        }
        ("Ranking", "weights") => ListBound::Fixed(4),
        ("Query", "webhooks") => ListBound::Fixed(domain::webhooks::MAX_WEBHOOKS as u64),
        ("Query", "open311Clients") => ListBound::Fixed(domain::open311::MAX_CLIENTS as u64),
        ("EvidenceUpload", "fields" | "headers" | "putHeaders") => ListBound::Fixed(16),
        ("Query", "messageTemplates") => {
            ListBound::Fixed(domain::subscriptions::MessageKind::ALL.len() as u64)
        }
        ("Query", "patrolPlans" | "patrols") => ListBound::Page,
        ("Query", "myPatrolPlan") => {
            ListBound::Fixed(domain::patrols::plans::MAX_PLANS_PER_INSPECTOR)
        }
        ("Query", "patrolCoverage") => ListBound::GridFanout,
        ("GridCoverage", "days") => ListBound::Fixed(domain::patrols::coverage::MAX_DAYS as u64),
        ("DayCoverage", "missedPlans") => {
            ListBound::Fixed(domain::patrols::plans::MAX_PLANS_PER_GRID)
        }
        ("PatrolPlan", "siteIds") => {
            ListBound::Fixed(domain::patrols::plans::MAX_SITES_PER_PLAN as u64)
        }
        ("Patrol", "track") => ListBound::Fixed(domain::patrols::MAX_TRACK_POINTS as u64),
        ("Patrol", "checkIns") => ListBound::Fixed(domain::patrols::MAX_CHECKINS),
        ("Patrol", "flags") => ListBound::Fixed(3),
        ("Mutation", "recordSubscription") => {
            ListBound::Fixed(domain::subscriptions::MAX_PER_GRANT as u64)
        }
        ("Query", "draws" | "publicDraws") => ListBound::Page,
        ("RandomDraw" | "PublicDraw", "sites") => ListBound::Fixed(domain::draws::MAX_SITES),
        ("DrawnSite", "inspectors") => ListBound::Fixed(domain::draws::MAX_PER_SITE),
        ("DrawVerification", "problems") => ListBound::Fixed(domain::draws::MAX_PROBLEMS),
        ("Query", "campaigns") => ListBound::Fixed(domain::campaigns::MAX_LISTED),
        ("Campaign", "categories") => ListBound::Fixed(domain::campaigns::MAX_CATEGORIES as u64),
        ("Campaign", "timeLimits") => ListBound::Fixed(category::MAX_TIME_LIMITS),
        _ => return None,
    };
    Some(b)
}

/// What the walk found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    /// Upper bound of the values in the answer (`u64::MAX` when the walk gave up).
    pub cost: u64,
    /// Deepest field, introspection excluded.
    pub depth: usize,
    /// Aliased fields, counted at every fragment spread.
    pub aliases: usize,
}

struct Walk<'a> {
    registry: &'a Registry,
    doc: &'a ExecutableDocument,
    vars: &'a Variables,
    var_defs: &'a [Positioned<VariableDefinition>],
    fanout: u64,
    page_cap: u64,
    visits: u64,
    aliases: usize,
    depth: usize,
    fragments: Vec<&'a str>,
}

/// Measures every operation of `doc` and returns the largest figures.
pub fn measure(
    registry: &Registry,
    doc: &ExecutableDocument,
    vars: &Variables,
    fanout: usize,
    limits: &RequestLimits,
) -> Measure {
    let mut out = Measure::default();
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        let Some(root) = root else { continue };
        let mut w = Walk {
            registry,
            doc,
            vars,
            var_defs: &op.node.variable_definitions,
            fanout: u64::try_from(fanout).unwrap_or(u64::MAX).max(1),
            page_cap: u64::try_from(limits.max_page_size).unwrap_or(100).max(1),
            visits: 0,
            aliases: 0,
            depth: 0,
            fragments: Vec::new(),
        };
        let cost = w.set(&op.node.selection_set.node, root, 0);
        let cost = if w.visits > MAX_VISITS {
            u64::MAX
        } else {
            cost
        };
        out.cost = out.cost.max(cost);
        out.depth = out.depth.max(w.depth);
        out.aliases = out.aliases.max(w.aliases);
    }
    out
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet, parent: &str, depth: usize) -> u64 {
        let mut total: u64 = 0;
        for sel in &set.items {
            if self.visits > MAX_VISITS {
                return u64::MAX;
            }
            let c = match &sel.node {
                Selection::Field(f) => self.field(&f.node, parent, depth),
                Selection::InlineFragment(i) => {
                    let ty = i
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |t| t.node.on.node.as_str());
                    self.set(&i.node.selection_set.node, ty, depth)
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    // A cycle is a validation error reported later; count it once.
                    if self.fragments.contains(&name) {
                        continue;
                    }
                    let Some(frag) = self.doc.fragments.get(name) else {
                        continue;
                    };
                    self.fragments.push(name);
                    let c = self.set(
                        &frag.node.selection_set.node,
                        frag.node.type_condition.node.on.node.as_str(),
                        depth,
                    );
                    self.fragments.pop();
                    c
                }
            };
            total = total.saturating_add(c);
        }
        total
    }

    fn field(&mut self, f: &'a Field, parent: &str, depth: usize) -> u64 {
        self.visits += 1;
        if f.alias.is_some() {
            self.aliases += 1;
        }
        let name = f.name.node.as_str();
        match name {
            "__schema" => return INTROSPECTION_SCHEMA_COST,
            "__type" => return INTROSPECTION_TYPE_COST,
            _ => {}
        }
        let depth = depth + 1;
        self.depth = self.depth.max(depth);
        let Some(meta) = self
            .registry
            .types
            .get(parent)
            .and_then(|t| t.field_by_name(name))
        else {
            // Unknown here (`__typename`, or a field validation will refuse).
            return 1;
        };
        let is_list = matches!(
            MetaTypeName::create(&meta.ty).unwrap_non_null(),
            MetaTypeName::List(_)
        );
        let paged = meta.args.contains_key("first")
            && MetaTypeName::concrete_typename(&meta.ty).ends_with("Connection");
        let bound = if paged {
            Some(ListBound::Page)
        } else {
            list_bound(parent, name)
        };
        let items = match bound {
            Some(ListBound::Page) => self.first(f),
            Some(ListBound::GridFanout) => self.fanout,
            Some(ListBound::Fixed(n)) => n,
            None if is_list => UNDECLARED_LIST_BOUND,
            None => 1,
        };
        let child_type = MetaTypeName::concrete_typename(&meta.ty);
        let children = if f.selection_set.node.items.is_empty() {
            0
        } else {
            self.set(&f.selection_set.node, child_type, depth)
        };
        let per_item = if is_list { children.max(1) } else { children };
        1u64.saturating_add(items.saturating_mul(per_item))
    }

    /// The page size a connection field asks for (default 20), within 1..=cap.
    fn first(&self, f: &Field) -> u64 {
        let raw = match f.get_argument("first").map(|v| &v.node) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::Variable(var)) => match self.vars.get(var) {
                Some(ConstValue::Number(n)) => n.as_i64(),
                Some(_) => None,
                None => self
                    .var_defs
                    .iter()
                    .find(|d| d.node.name.node == *var)
                    .and_then(|d| d.node.default_value.as_ref())
                    .and_then(|d| match &d.node {
                        ConstValue::Number(n) => n.as_i64(),
                        _ => None,
                    }),
            },
            _ => None,
        };
        let n = raw.unwrap_or(20).max(1);
        u64::try_from(n).unwrap_or(1).min(self.page_cap)
    }
}

// ------------------------------------------------------------------------ order

fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match name {
        Some(n) => doc
            .operations
            .iter()
            .find(|(op_name, _)| op_name.is_some_and(|o| o.as_str() == n))
            .map(|(_, op)| &op.node),
        None => doc.operations.iter().next().map(|(_, op)| &op.node),
    }
}

/// Response keys in query order, each with the selection sets merged under it.
fn collect_keys<'d>(
    sets: &[&'d SelectionSet],
    doc: &'d ExecutableDocument,
    out: &mut Vec<(Name, Vec<&'d SelectionSet>)>,
    guard: usize,
) {
    if guard > 64 {
        return;
    }
    for set in sets {
        for sel in &set.items {
            match &sel.node {
                Selection::Field(f) => {
                    let key = f.node.response_key().node.clone();
                    let sub = &f.node.selection_set.node;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, subs)) => subs.push(sub),
                        None => out.push((key, vec![sub])),
                    }
                }
                Selection::InlineFragment(i) => {
                    collect_keys(&[&i.node.selection_set.node], doc, out, guard + 1);
                }
                Selection::FragmentSpread(s) => {
                    if let Some(frag) = doc.fragments.get(&s.node.fragment_name.node) {
                        collect_keys(&[&frag.node.selection_set.node], doc, out, guard + 1);
                    }
                }
            }
        }
    }
}

/// The response keys a selection asks for, in query order, each with the keys of its
/// own selection: worked out once per request from the document, then applied to every
/// object of the answer (a page of a hundred cases asks the same keys a hundred times).
#[derive(Default)]
struct KeyTree {
    keys: Vec<(Name, KeyTree)>,
}

impl KeyTree {
    /// The tree of `sets`, merged (fragments expanded, repeated keys joined). Its size is
    /// that of the query's expanded selection, which the cost limit has already bounded.
    fn of(sets: &[&SelectionSet], doc: &ExecutableDocument, depth: usize) -> Self {
        if depth > 64 {
            return Self::default();
        }
        let mut flat = Vec::new();
        collect_keys(sets, doc, &mut flat, 0);
        Self {
            keys: flat
                .into_iter()
                .map(|(key, subs)| {
                    let child = if subs.iter().all(|s| s.items.is_empty()) {
                        Self::default()
                    } else {
                        Self::of(&subs, doc, depth + 1)
                    };
                    (key, child)
                })
                .collect(),
        }
    }
}

/// Puts the keys of `value` in the order `sets` ask for them, recursively.
fn reorder(value: &mut ConstValue, sets: &[&SelectionSet], doc: &ExecutableDocument, depth: usize) {
    if !matches!(value, ConstValue::List(_) | ConstValue::Object(_)) {
        return;
    }
    reorder_with(value, &KeyTree::of(sets, doc, depth), depth);
}

/// [`reorder`] with the keys already worked out.
fn reorder_with(value: &mut ConstValue, tree: &KeyTree, depth: usize) {
    if depth > 64 || tree.keys.is_empty() {
        return;
    }
    match value {
        ConstValue::List(items) => {
            for item in items {
                reorder_with(item, tree, depth + 1);
            }
        }
        ConstValue::Object(map) => {
            // The engine usually answers in query order already: the map's keys are then
            // a subsequence of the tree's, found in one walk without hashing, and the map
            // is rebuilt only when they are not.
            let mut expected = tree.keys.iter();
            let in_order = map.keys().all(|k| expected.any(|(e, _)| e == k));
            if !in_order {
                let mut old = std::mem::take(map);
                let mut fresh = IndexMap::with_capacity(old.len());
                for (key, _) in &tree.keys {
                    if let Some(v) = old.swap_remove(key) {
                        fresh.insert(key.clone(), v);
                    }
                }
                fresh.extend(old);
                *map = fresh;
            }
            // Keys and tree now run in the same order: one walk pairs them.
            let mut subs = tree.keys.iter();
            for (key, v) in map.iter_mut() {
                let mut rest = subs.clone();
                if let Some((_, child)) = rest.find(|(k, _)| k == key) {
                    subs = rest;
                    reorder_with(v, child, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn limits() -> RequestLimits {
        RequestLimits {
            max_depth: 12,
            max_cost: 50_000,
            max_aliases: 30,
            max_page_size: 100,
            timeout: Duration::from_secs(30),
        }
    }

    /// The schema's environment (registry included), captured by an extension while a
    /// trivial query runs: async-graphql offers no other way to reach the registry.
    pub(crate) fn schema_env() -> async_graphql::SchemaEnv {
        struct Capture(Arc<Mutex<Option<async_graphql::SchemaEnv>>>);
        struct CaptureExt(Arc<Mutex<Option<async_graphql::SchemaEnv>>>);
        impl ExtensionFactory for Capture {
            fn create(&self) -> Arc<dyn Extension> {
                Arc::new(CaptureExt(Arc::clone(&self.0)))
            }
        }
        #[async_trait::async_trait]
        impl Extension for CaptureExt {
            async fn execute(
                &self,
                ctx: &ExtensionContext<'_>,
                operation_name: Option<&str>,
                next: NextExecute<'_>,
            ) -> Response {
                *self.0.lock().unwrap() = Some(ctx.schema_env.clone());
                next.run(ctx, operation_name).await
            }
        }
        let slot = Arc::new(Mutex::new(None));
        let schema = crate::graphql::schema()
            .extension(Capture(Arc::clone(&slot)))
            .finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(schema.execute("{ __typename }"));
        slot.lock().unwrap().take().unwrap()
    }

    fn cost(q: &str, vars: serde_json::Value, fanout: usize) -> Measure {
        let env = schema_env();
        let doc = async_graphql::parser::parse_query(q).unwrap();
        let vars = Variables::from_json(vars);
        measure(&env.registry, &doc, &vars, fanout, &limits())
    }

    #[test]
    fn lists_multiply_and_cycles_pay_at_every_turn() {
        let m = cost("{ regions { code } }", serde_json::json!({}), 30);
        assert_eq!(m.cost, 1 + 30);
        let m = cost(
            "{ regions { code children { code } } }",
            serde_json::json!({}),
            30,
        );
        assert_eq!(m.cost, 1 + 30 * (1 + 1 + 30));
        let attack = "{ regions { children { children { parent { children { parent { children { parent { children { parent { children { code } } } } } } } } } } } }";
        assert!(cost(attack, serde_json::json!({}), 30).cost > 1_000_000_000);
        let two_less = "{ regions { children { children { parent { children { parent { children { parent { children { code } } } } } } } } } }";
        assert!(cost(two_less, serde_json::json!({}), 30).cost > 10_000_000);
    }

    #[test]
    fn pages_cost_first_from_literals_variables_and_defaults() {
        let q = "query($n: Int = 7) { cases(first: $n) { edges { node { id number } } } }";
        let per = 1 + (1 + 1 + 1); // edges(1) × node(1 + id + number)
        assert_eq!(cost(q, serde_json::json!({}), 1).cost, 1 + 7 * per);
        assert_eq!(cost(q, serde_json::json!({"n": 50}), 1).cost, 1 + 50 * per);
        // Over the cap: counted at the cap (the resolver refuses it anyway).
        assert_eq!(
            cost(q, serde_json::json!({"n": 100_000}), 1).cost,
            1 + 100 * per
        );
        let q = "{ cases { edges { node { id number } } } }";
        assert_eq!(cost(q, serde_json::json!({}), 1).cost, 1 + 20 * per);
    }

    #[test]
    fn fragments_count_at_every_spread() {
        let q = "fragment F on Query { a: categories { id } b: categories { id } } \
                 { ...F x: __typename ... on Query { ...F } }";
        let m = cost(q, serde_json::json!({}), 1);
        assert_eq!(m.aliases, 5);
        // A fragment bomb: each level spreads the next twice.
        let mut q = String::from("fragment F0 on Query { categories { id } }\n");
        for i in 1..=40 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
                p = i - 1
            ));
        }
        q.push_str("{ ...F40 }");
        assert_eq!(cost(&q, serde_json::json!({}), 1).cost, u64::MAX);
    }

    #[test]
    fn introspection_is_bounded_and_shallow() {
        let m = cost(
            "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }",
            serde_json::json!({}),
            1,
        );
        assert_eq!(m.cost, INTROSPECTION_SCHEMA_COST);
        assert_eq!(m.depth, 0);
    }

    #[test]
    fn every_list_field_of_the_schema_declares_a_bound() {
        let env = schema_env();
        let registry = &env.registry;
        let mut missing = Vec::new();
        let mut lists = 0;
        for (type_name, ty) in &registry.types {
            if type_name.starts_with("__") {
                continue;
            }
            let Some(fields) = ty.fields() else { continue };
            for (name, f) in fields {
                let is_list = matches!(
                    MetaTypeName::create(&f.ty).unwrap_non_null(),
                    MetaTypeName::List(_)
                );
                let paged = f.args.contains_key("first")
                    && MetaTypeName::concrete_typename(&f.ty).ends_with("Connection");
                if is_list || paged {
                    lists += 1;
                    if !paged && list_bound(type_name, name).is_none() {
                        missing.push(format!("{type_name}.{name}"));
                    }
                }
            }
        }
        assert!(
            lists >= 15,
            "the walk over the registry found only {lists} lists"
        );
        assert!(
            missing.is_empty(),
            "list fields without a bound: {missing:?}"
        );
    }

    #[test]
    fn control_characters_are_found_anywhere() {
        for c in [
            '\u{0}', '\u{1}', '\u{8}', '\u{b}', '\u{1b}', '\u{7f}', '\u{85}',
        ] {
            assert!(is_forbidden_char(c), "{c:?}");
        }
        for c in ['\t', '\n', '\r', ' ', '中', '\u{200d}', '😀'] {
            assert!(!is_forbidden_char(c), "{c:?}");
        }
        let vars = Variables::from_json(serde_json::json!({
            "input": { "description": "ok", "nested": ["fine", "bad\u{0000}"] }
        }));
        assert_eq!(
            find_control_char_in_variables(&vars).as_deref(),
            Some("$input.nested.1")
        );
        let doc = async_graphql::parser::parse_query(
            "mutation { login(username: \"demo\\u0000admin\", password: \"x\") { accessToken } }",
        )
        .unwrap();
        assert_eq!(
            find_control_char_in_document(&doc).as_deref(),
            Some("login.username")
        );
    }

    #[test]
    fn answers_follow_the_query_order() {
        let doc = async_graphql::parser::parse_query(
            "{ b: categories { code id } a: regions { name } ...F } fragment F on Query { me { name } }",
        )
        .unwrap();
        let mut v = ConstValue::from_json(serde_json::json!({
            "me": { "name": "x" },
            "a": [{ "name": "r" }],
            "b": [{ "id": "1", "code": "C" }, { "id": "2", "code": "D" }],
        }))
        .unwrap();
        let op = operation(&doc, None).unwrap();
        reorder(&mut v, &[&op.selection_set.node], &doc, 0);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"b":[{"code":"C","id":"1"},{"code":"D","id":"2"}],"a":[{"name":"r"}],"me":{"name":"x"}}"#
        );
    }
}
