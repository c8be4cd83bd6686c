//! `schema.graphql` is the contract with the mobile app and the mini-program: it must
//! match the code. `UPDATE_SCHEMA=1` rewrites it.

#[test]
fn schema_graphql_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let sdl = gridwatch::graphql::sdl();
    if std::env::var("UPDATE_SCHEMA").as_deref() == Ok("1") {
        std::fs::write(&path, &sdl).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema.graphql is out of date: run `UPDATE_SCHEMA=1 cargo test --test it schema` and review the diff"
    );
}

#[test]
fn contract_names_are_present() {
    let sdl = gridwatch::graphql::sdl();
    for name in [
        "enum RegionLevel",
        "enum CoordSystem",
        "type GeoPoint",
        "type Region",
        "type Category",
        "regions(parentId: ID): [Region!]!",
        "region(id: ID!): Region",
        "locate(coord: CoordSystem = WGS84, lat: Float!, lng: Float!): Region",
        "categories: [Category!]!",
        "synthetic: Boolean!",
        "centroid(coord: CoordSystem): GeoPoint",
        "location(coord: CoordSystem): GeoPoint!",
        "children: [Region!]!",
        "parent: Region",
        "changesSince(cursor: String, first: Int): Changes!",
        "removed: [ID!]!",
        "resync: Boolean!",
        "createOpen311Client(name: String!): CreatedOpen311Client!",
        "open311Clients: [Open311Client!]!",
        "revokeOpen311Client(id: ID!): Open311Client!",
        "OPEN311",
    ] {
        assert!(sdl.contains(name), "schema lost `{name}`:\n{sdl}");
    }
}
