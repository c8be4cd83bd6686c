//! What a request may ask for, checked before anything runs, and how long it may take.
//!
//! [`GuardedSchema`] wraps the schema and does per request, over HTTP and WebSocket
//! alike:
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
//!
//! This is deliberately not an async-graphql extension: with any extension registered
//! the engine sends every field of the answer through the extension chain (a type
//! lookup, a `ResolveInfo` and two more futures per field). A page of a hundred cases
//! resolves about two thousand fields, and that chain was a quarter of its CPU.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt as _};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
    VariableDefinition,
};
use async_graphql::registry::{MetaTypeName, Registry};
use async_graphql::{
    Data, Executor, Name, OutputType, Positioned, Request, Response, ServerError, SubscriptionType,
    Variables,
};
use async_graphql_value::{ConstValue, Value};

use super::GridwatchSchema;
use crate::domain;
use crate::domain::grid::Grid;
use crate::error::{AppError, Msg};

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

/// The engine's own bound on selection nesting (`limit_recursive_depth`): a document
/// nested deeper is left to the engine, which refuses it before anything runs, so the
/// walks here never recurse further than this.
pub const RECURSION_LIMIT: usize = 32;

/// The schema behind its guard: what the HTTP and WebSocket endpoints execute.
#[derive(Clone)]
pub struct GuardedSchema {
    schema: GridwatchSchema,
    guard: Arc<Guard>,
}

struct Guard {
    limits: RequestLimits,
    model: CostModel,
    /// The region tree, whose largest fan-out bounds `regions` and `children`.
    grid: Arc<Grid>,
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

impl GuardedSchema {
    /// `schema` behind the guard of `limits`; `model` is [`CostModel::of_schema`], best
    /// made before the schema: the registry it is made from is then freed before the
    /// engine builds its own, and the start never holds two.
    pub fn new(
        schema: GridwatchSchema,
        model: CostModel,
        limits: RequestLimits,
        grid: Arc<Grid>,
    ) -> Self {
        Self {
            schema,
            guard: Arc::new(Guard {
                limits,
                model,
                grid,
            }),
        }
    }

    /// The schema itself, unguarded (its SDL, tests).
    pub fn schema(&self) -> &GridwatchSchema {
        &self.schema
    }

    /// Checks and runs one request. `prepared` is its document when the caller parsed it
    /// already (and gave the request a copy: see `documents`).
    pub async fn run(
        &self,
        mut req: Request,
        prepared: Option<Arc<ExecutableDocument>>,
    ) -> Response {
        let doc = match self.guard.check(&mut req, prepared) {
            Ok(doc) => doc,
            Err(e) => return Response::from_errors(vec![e]),
        };
        let op_name = req.operation_name.clone();
        let budget = self.guard.limits.timeout;
        let mut resp = match tokio::time::timeout(budget, self.schema.execute(req)).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(
                    budget_ms = budget.as_millis() as u64,
                    "request ran past its time budget"
                );
                return Response::from_errors(vec![refuse(AppError::TimedOut)]);
            }
        };
        if let Some(doc) = doc {
            in_query_order(&mut resp, &doc, op_name.as_deref());
        }
        resp
    }
}

/// Puts the keys of `resp` in the order the operation `op_name` of `doc` asked for them.
fn in_query_order(resp: &mut Response, doc: &ExecutableDocument, op_name: Option<&str>) {
    if let Some(op) = operation(doc, op_name) {
        reorder(&mut resp.data, &[&op.selection_set.node], doc, 0);
    }
}

impl Executor for GuardedSchema {
    fn execute(&self, request: Request) -> impl std::future::Future<Output = Response> + Send {
        self.run(request, None)
    }

    /// Subscriptions (and anything else sent over the WebSocket): the same checks before
    /// the stream starts, each answer's keys in query order. Each event is resolved as
    /// it comes; the time budget is for requests, not for a stream that lasts.
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let doc = match self.guard.check(&mut request, None) {
            Ok(doc) => doc,
            Err(e) => {
                // Completed here as the HTTP edge completes its errors (code, detail, the
                // socket's language).
                let ctx = session_data.as_ref().and_then(|d| {
                    d.get(&std::any::TypeId::of::<super::RequestContext>())
                        .and_then(|b| b.downcast_ref::<super::RequestContext>())
                });
                let (lang, id) = ctx.map_or((crate::error::Lang::Zh, ""), |c| {
                    (c.lang, c.request_id.as_str())
                });
                let mut errors = vec![e];
                super::errors::finish_errors(&mut errors, lang, id);
                return stream::once(async move { Response::from_errors(errors) }).boxed();
            }
        };
        let op_name = request.operation_name.clone();
        let events = Executor::execute_stream(&self.schema, request, session_data);
        match doc {
            Some(doc) => events
                .map(move |mut resp| {
                    in_query_order(&mut resp, &doc, op_name.as_deref());
                    resp
                })
                .boxed(),
            None => events,
        }
    }
}

impl Guard {
    /// The text and cost checks of a request; its document (to order the answer), or
    /// `None` when the engine will refuse the request anyway (it does not parse, or is
    /// nested past [`RECURSION_LIMIT`]) and reports why itself.
    fn check(
        &self,
        req: &mut Request,
        prepared: Option<Arc<ExecutableDocument>>,
    ) -> Result<Option<Arc<ExecutableDocument>>, ServerError> {
        let doc = match prepared {
            Some(doc) => doc,
            None => match async_graphql::parser::parse_query(&req.query) {
                Ok(parsed) => {
                    req.set_parsed_query(parsed.clone());
                    Arc::new(parsed)
                }
                Err(_) => return Ok(None),
            },
        };
        match nesting(&doc) {
            Nesting::Within => {}
            Nesting::TooDeep => return Ok(None),
            Nesting::TooBig => {
                return Err(too_complex(
                    "查询过于复杂：片段展开后的字段过多。请减少重复引用的片段".to_owned(),
                    "query too complex: too many fields once its fragments are expanded; \
                     spread fewer fragments"
                        .to_owned(),
                ));
            }
        }
        if let Some(path) = find_control_char_in_variables(&req.variables) {
            return Err(refuse(control_char_error(&path)));
        }
        if let Some(path) = find_control_char_in_document(&doc) {
            return Err(refuse(control_char_error(&path)));
        }
        let fanout = self.grid.snapshot().max_fanout();
        let m = measure(&self.model, &doc, &req.variables, fanout, &self.limits);
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
        Ok(Some(doc))
    }
}

/// How a document's nesting compares with the engine's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nesting {
    /// Within [`RECURSION_LIMIT`]: the walks below may recurse.
    Within,
    /// Nested deeper: left to the engine, which refuses it before anything runs.
    TooDeep,
    /// More than [`MAX_VISITS`] selections once fragments are expanded at every spread
    /// (a fragment bomb within the depth limit). Refused here as too complex: the
    /// engine's own depth check expands fragments the same way, without a bound.
    TooBig,
}

/// The [`Nesting`] of `doc`, counted as the engine counts (every field with a selection,
/// fragment spread and inline fragment is a level). Stops at the limit and at
/// [`MAX_VISITS`], so it never recurses deeper, nor works longer, than that.
fn nesting(doc: &ExecutableDocument) -> Nesting {
    fn set(doc: &ExecutableDocument, s: &SelectionSet, depth: usize, visits: &mut u64) -> Nesting {
        if depth > RECURSION_LIMIT {
            return Nesting::TooDeep;
        }
        for sel in &s.items {
            *visits += 1;
            if *visits > MAX_VISITS {
                return Nesting::TooBig;
            }
            let inner = match &sel.node {
                Selection::Field(f) if f.node.selection_set.node.items.is_empty() => {
                    Nesting::Within
                }
                Selection::Field(f) => set(doc, &f.node.selection_set.node, depth + 1, visits),
                Selection::FragmentSpread(spread) => {
                    match doc.fragments.get(&spread.node.fragment_name.node) {
                        Some(frag) => set(doc, &frag.node.selection_set.node, depth + 1, visits),
                        None => Nesting::Within,
                    }
                }
                Selection::InlineFragment(i) => {
                    set(doc, &i.node.selection_set.node, depth + 1, visits)
                }
            };
            if inner != Nesting::Within {
                return inner;
            }
        }
        Nesting::Within
    }
    let mut visits = 0;
    let roots = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node));
    for root in roots {
        let n = set(doc, root, 0, &mut visits);
        if n != Nesting::Within {
            return n;
        }
    }
    Nesting::Within
}

/// What the cost walk needs to know of one field.
#[derive(Debug, Clone)]
struct FieldShape {
    /// It returns a list.
    list: bool,
    /// It returns a connection page (`first`).
    paged: bool,
    /// The type of its value (of its items, for a list).
    child: String,
}

/// The schema as the cost walk sees it: per type, per field, its [`FieldShape`]. Made
/// once from the schema's types; the registry it is made from is not kept.
pub struct CostModel {
    query: String,
    mutation: Option<String>,
    subscription: Option<String>,
    types: HashMap<String, HashMap<String, FieldShape>>,
}

impl CostModel {
    /// The model of gridwatch's schema.
    pub fn of_schema() -> Self {
        let mut registry = Registry {
            types: Default::default(),
            directives: Default::default(),
            implements: Default::default(),
            query_type: super::Query::type_name().into_owned(),
            mutation_type: Some(super::Mutation::type_name().into_owned()),
            subscription_type: Some(super::live::Subscription::type_name().into_owned()),
            introspection_mode: async_graphql::IntrospectionMode::Enabled,
            enable_federation: false,
            federation_subscription: false,
            ignore_name_conflicts: Default::default(),
            enable_suggestions: false,
        };
        <super::Query as OutputType>::create_type_info(&mut registry);
        <super::Mutation as OutputType>::create_type_info(&mut registry);
        <super::live::Subscription as SubscriptionType>::create_type_info(&mut registry);
        // As the engine does: the merged roots' parts are no types of the schema.
        registry.remove_unused_types();
        Self::from_registry(&registry)
    }

    fn from_registry(registry: &Registry) -> Self {
        let types = registry
            .types
            .iter()
            .filter_map(|(type_name, ty)| {
                let fields = ty.fields()?;
                let shapes = fields
                    .iter()
                    .map(|(name, f)| {
                        let child = MetaTypeName::concrete_typename(&f.ty);
                        let shape = FieldShape {
                            list: matches!(
                                MetaTypeName::create(&f.ty).unwrap_non_null(),
                                MetaTypeName::List(_)
                            ),
                            paged: f.args.contains_key("first") && child.ends_with("Connection"),
                            child: child.to_owned(),
                        };
                        (name.clone(), shape)
                    })
                    .collect();
                Some((type_name.clone(), shapes))
            })
            .collect();
        Self {
            query: registry.query_type.clone(),
            mutation: registry.mutation_type.clone(),
            subscription: registry.subscription_type.clone(),
            types,
        }
    }

    fn field(&self, parent: &str, name: &str) -> Option<&FieldShape> {
        self.types.get(parent)?.get(name)
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
        ("DrawnSite", "inspectors") | ("Case", "team") => {
            ListBound::Fixed(domain::draws::MAX_PER_SITE)
        }
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
    model: &'a CostModel,
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
    model: &CostModel,
    doc: &ExecutableDocument,
    vars: &Variables,
    fanout: usize,
    limits: &RequestLimits,
) -> Measure {
    let mut out = Measure::default();
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => Some(model.query.as_str()),
            OperationType::Mutation => model.mutation.as_deref(),
            OperationType::Subscription => model.subscription.as_deref(),
        };
        let Some(root) = root else { continue };
        let mut w = Walk {
            model,
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
        let model = self.model;
        let Some(shape) = model.field(parent, name) else {
            // Unknown here (`__typename`, or a field validation will refuse).
            return 1;
        };
        let is_list = shape.list;
        let bound = if shape.paged {
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
        let children = if f.selection_set.node.items.is_empty() {
            0
        } else {
            self.set(&f.selection_set.node, &shape.child, depth)
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

    fn cost(q: &str, vars: serde_json::Value, fanout: usize) -> Measure {
        let model = CostModel::of_schema();
        let doc = async_graphql::parser::parse_query(q).unwrap();
        let vars = Variables::from_json(vars);
        measure(&model, &doc, &vars, fanout, &limits())
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

    /// A fragment bomb within the depth limit (each level spreads the next twice, 2^30
    /// fields) is refused after a bounded walk; one past the limit is left to the
    /// engine; an ordinary query is within.
    #[test]
    fn nesting_is_bounded() {
        let bomb = |levels: usize| {
            let mut q = String::from("fragment F0 on Query { categories { id } }\n");
            for i in 1..=levels {
                q.push_str(&format!(
                    "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
                    p = i - 1
                ));
            }
            q.push_str(&format!("{{ ...F{levels} }}"));
            async_graphql::parser::parse_query(q).unwrap()
        };
        assert_eq!(nesting(&bomb(30)), Nesting::TooBig);
        assert_eq!(nesting(&bomb(40)), Nesting::TooDeep);
        let q = async_graphql::parser::parse_query(
            "{ cases(first: 5) { edges { node { id category { code } } } } }",
        )
        .unwrap();
        assert_eq!(nesting(&q), Nesting::Within);
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

    /// The model is made from the schema's types the way the engine makes its registry:
    /// the same object and interface types as the SDL, with the same fields.
    #[test]
    fn the_cost_model_sees_the_schema() {
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        let model = CostModel::of_schema();
        let sdl = async_graphql::parser::parse_schema(crate::graphql::sdl()).unwrap();
        let mut seen = 0;
        for def in &sdl.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let fields = match &t.node.kind {
                TypeKind::Object(o) => &o.fields,
                TypeKind::Interface(i) => &i.fields,
                _ => continue,
            };
            let name = t.node.name.node.as_str();
            let shapes = model
                .types
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing"));
            let mut want: Vec<&str> = fields.iter().map(|f| f.node.name.node.as_str()).collect();
            let mut got: Vec<&str> = shapes.keys().map(String::as_str).collect();
            want.sort_unstable();
            got.sort_unstable();
            assert_eq!(got, want, "{name}");
            seen += 1;
        }
        let ours = model.types.keys().filter(|t| !t.starts_with("__")).count();
        assert_eq!(ours, seen, "types in the model but not in the SDL");
        assert!(model.field("Query", "myTasks").unwrap().paged);
        assert!(model.field("Case", "events").unwrap().list);
        assert_eq!(model.field("Case", "region").unwrap().child, "Region");
    }

    #[test]
    fn every_list_field_of_the_schema_declares_a_bound() {
        let model = CostModel::of_schema();
        let mut missing = Vec::new();
        let mut lists = 0;
        for (type_name, fields) in &model.types {
            if type_name.starts_with("__") {
                continue;
            }
            for (name, f) in fields {
                if f.list || f.paged {
                    lists += 1;
                    if !f.paged && list_bound(type_name, name).is_none() {
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
