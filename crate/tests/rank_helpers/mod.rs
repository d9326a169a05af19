//! Helpers of the native request tests (`engine_rank.rs`, `engine_explain.rs`): the shop's
//! non-private engine, options from JSON, ids and categories of a response.
#![allow(dead_code)]

use crate::shop::*;
use vitrine::{Engine, RankOptions, RankResponse, ValidRankOptions};

pub fn engine() -> Engine {
    not_private(shop_bundle())
}

pub fn opts(e: &Engine, json: &str) -> ValidRankOptions {
    let raw: RankOptions = serde_json::from_str(json).expect("test options");
    e.validate(&raw).expect("valid options")
}

pub fn opts_err(e: &Engine, json: &str) -> String {
    let raw: RankOptions = serde_json::from_str(json).expect("test options");
    e.validate(&raw).expect_err("invalid options").to_string()
}

pub fn ids(r: &RankResponse) -> Vec<&str> {
    r.iter().map(|x| x.id.as_str()).collect()
}

pub fn cats(r: &RankResponse) -> Vec<usize> {
    r.iter().map(|x| cat_of(&x.id)).collect()
}
