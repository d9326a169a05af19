//! `vitrine inspect` of a catalog update (`vitrine catalog update --delta`): reported with the
//! bundle it applies to; a tampered update is refused.

mod common;

use common::{code, fixture, json, s, text, vitrine};

#[test]
fn inspect_reports_a_catalog_update_and_the_bundle_it_applies_to() {
    let f = fixture("inspect-delta");
    let catalog = f.dir.join("catalog.csv");
    let mut rows = String::from("id,title,category,price,availability\n");
    for i in 0..30 {
        let stock = if i == 3 { "out_of_stock" } else { "in_stock" };
        rows.push_str(&format!(
            "item{i},Item {i},group{},{}.5,{stock}\n",
            i / 10,
            i + 1
        ));
    }
    rows.push_str("brand-new,A new product,group1,9.5,in_stock\n");
    std::fs::write(&catalog, rows).unwrap();
    let (updated, delta) = (f.dir.join("b2.vtr"), f.dir.join("d.vtr"));
    let o = vitrine(&[
        "catalog",
        "update",
        "--bundle",
        s(&f.bundle),
        "--catalog",
        s(&catalog),
        "--out",
        s(&updated),
        "--delta",
        s(&delta),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));

    let base = json(&vitrine(&["inspect", "--bundle", s(&f.bundle), "--json"]));
    assert_eq!(base["kind"], "bundle", "{base}");
    assert!(base["catalog_update"].is_null());
    let o = vitrine(&["inspect", "--bundle", s(&delta), "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let d = json(&o);
    assert_eq!(d["kind"], "catalog_update", "{d}");
    assert_eq!(d["catalog_update"]["base"], base["digest"]["value"], "{d}");
    assert_eq!(d["catalog_update"]["base_items"], base["items"], "{d}");
    assert_eq!(d["digest"]["status"], "valid");
    let o = vitrine(&["inspect", "--bundle", s(&delta)]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("update of"), "{}", text(&o.stdout));
    // The updated bundle is a bundle again, with the new product.
    let b2 = json(&vitrine(&["inspect", "--bundle", s(&updated), "--json"]));
    assert_eq!(b2["kind"], "bundle");
    assert_eq!(b2["items"], base["items"].as_u64().unwrap() + 1, "{b2}");

    // One byte of the update's payload changed: refused (never reported as valid).
    let mut bytes = std::fs::read(&delta).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x5a;
    let bad = f.dir.join("bad.vtr");
    std::fs::write(&bad, bytes).unwrap();
    let o = vitrine(&["inspect", "--bundle", s(&bad), "--json"]);
    assert_ne!(code(&o), 0);
    assert!(
        !text(&o.stdout).contains("\"valid\""),
        "{}",
        text(&o.stdout)
    );
}
