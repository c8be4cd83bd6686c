//! `sla_mark`: one warning or one escalation done for one deadline of one case. The
//! unique (case, step, kind, due_at) makes each happen once, even when several
//! processes sweep; an extended deadline is a new `due_at`, so it gets its own.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{SlaKind, Step};

/// A row of `sla_mark`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sla_mark")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    pub step: Step,
    pub kind: SlaKind,
    pub due_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
