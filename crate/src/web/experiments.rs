//! The wasm-bindgen face of [`crate::experiment`] (`docs/EXPERIMENTS.md`, "Browser integration"):
//! one `Experiments` per page holds the validated manifest, this device's (or page session's) id
//! and its experiment state. No logic lives here: every method is one call into the core with the
//! browser's clock and CSPRNG. The page decides what is stored (consent) and what is sent; this
//! class never reads storage nor makes a request. Errors are JS `Error`s with the core's `code`
//! and `path`. Nothing here panics on JS input.

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;

use crate::experiment::assign::{arm_label, NotEnrolled};
use crate::experiment::Manifest;
use crate::experiment::{
    assign, experiment_label, team_draft, DeviceEvent, DeviceExperiments, DeviceId, Enrollment,
    ExperimentError, OpeImpression, Team, ValidExperiment, ValidManifest,
};
use crate::privacy::{OsRandom, Propensity};
use crate::rank::MAX_K;

use super::interop::{read, write, Kind};
use super::js_read::{short_string, ListError, StrList, MAX_LIST_CHARS};

/// An experiment id from the page, its length read before it is copied (a string of 2²⁹
/// characters trapped the module in wasm-bindgen's copy): `invalid_argument` for anything but
/// a string of at most [`MAX_LIST_CHARS`] characters.
fn experiment_arg(v: &JsValue) -> Result<String, JsValue> {
    let why = match short_string(v) {
        Ok(Some(s)) => return Ok(s),
        Ok(None) => "expected a string".to_owned(),
        Err(ListError::TooManyChars(n)) => format!(
            "{} characters, at most {MAX_LIST_CHARS}",
            crate::numfmt::Num(n)
        ),
        Err(_) => "expected a string".to_owned(),
    };
    Err(fail(ExperimentError::new(
        "invalid_argument",
        "",
        format!("invalid experiment id: {why}"),
    )))
}

/// A JS `Error` (name `VitrineError`) with the experiment error's `code` and `path`.
fn fail(e: ExperimentError) -> JsValue {
    super::js_error::js_error_at(&e.to_string(), e.code, e.path)
}

/// The manifest as written, from the page's parsed JSON (the wire reader: no JSON parser in the
/// wasm). Reading errors take the codes serde's would natively: `unknown_field`,
/// `missing_field`, `invalid_type` (the message names the field's path).
fn read_manifest(value: JsValue) -> Result<Manifest, ExperimentError> {
    read::<Manifest>(value, Kind::Options, "experiments manifest").map_err(|e| {
        let message = e.to_string();
        // A byte search, not `str::contains` (its two-way searcher costs ~1 KB of wasm).
        let has = |needle: &[u8]| {
            message
                .as_bytes()
                .windows(needle.len())
                .any(|w| w == needle)
        };
        let code = if has(b"unknown field") {
            "unknown_field"
        } else if has(b"is required") {
            "missing_field"
        } else {
            "invalid_type"
        };
        ExperimentError::new(code, "", message)
    })
}

fn set(o: &JsValue, key: &str, value: JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(o, &key.into(), &value);
}

/// The experiments of one manifest on this device (`new Experiments(manifestJson, storedState,
/// storedDeviceId, gpc)`).
#[wasm_bindgen]
pub struct Experiments {
    manifest: ValidManifest,
    device: DeviceExperiments,
    id: DeviceId,
    gpc: bool,
    /// Why the stored state or id could not be used (`state_corrupt`, `device_id`), if so.
    issue: Option<ExperimentError>,
    fresh_id: bool,
}

/// The manifest's experiment `id` (a free function: the borrow stays on the manifest, so the
/// device state can change meanwhile without a clone of the experiment).
fn find<'m>(manifest: &'m ValidManifest, id: &str) -> Result<&'m ValidExperiment, JsValue> {
    manifest.experiment(id).ok_or_else(|| {
        fail(ExperimentError::new(
            "unknown_experiment",
            "",
            format!("the manifest has no experiment '{id}'"),
        ))
    })
}

impl Experiments {
    /// The manifest's experiment the page names (see [`experiment_arg`]).
    fn experiment(&self, id: &JsValue) -> Result<&ValidExperiment, JsValue> {
        find(&self.manifest, &experiment_arg(id)?)
    }

    fn enrollment(&self, exp: &ValidExperiment, now_ms: f64) -> Enrollment {
        assign(exp, &self.id, now_ms, self.gpc)
    }
}

#[wasm_bindgen]
impl Experiments {
    /// Reads the manifest (the page's `JSON.parse` of `experiments.json`; errors: their `code`
    /// and `path`) and restores the state. `state`: the parsed JSON of what `exportState()`
    /// returned (a corrupt one is replaced by a state with no measurement
    /// budget left, so damage never refills the budget; `stateIssue` says so). `deviceId`: the
    /// stored id (a missing or corrupt one is replaced by a fresh one from the CSPRNG: `newDeviceId`).
    /// `gpc`: Global Privacy Control, never enrolled.
    #[wasm_bindgen(constructor)]
    pub fn new(
        manifest: JsValue,
        state: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | undefined")] device_id: JsValue,
        gpc: bool,
    ) -> Result<Experiments, JsValue> {
        // A string too long to copy is an id that does not parse (a fresh one, `stateIssue`).
        let device_id = match short_string(&device_id) {
            Ok(id) => id,
            Err(_) => Some(String::new()),
        };
        let manifest = read_manifest(manifest)
            .and_then(|m| m.validate())
            .map_err(fail)?;
        let mut issue = None;
        let restored = (!state.is_undefined() && !state.is_null()).then(|| {
            read::<DeviceExperiments>(state, Kind::State, "stored experiment state")
                .map_err(|e| ExperimentError::new("state_corrupt", "", e.to_string()))
                .and_then(DeviceExperiments::checked)
        });
        let device = match restored {
            None => DeviceExperiments::default(),
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                issue = Some(e);
                DeviceExperiments::new(0.0)
            }
        };
        let parsed = device_id.as_deref().map(DeviceId::parse);
        let (id, fresh_id) = match parsed {
            Some(Ok(id)) => (id, false),
            other => {
                if let Some(Err(e)) = other {
                    issue.get_or_insert(e);
                }
                let id = DeviceId::generate(&mut OsRandom::new())
                    .map_err(|e| fail(ExperimentError::from(e)))?;
                (id, true)
            }
        };
        Ok(Experiments {
            manifest,
            device,
            id,
            gpc,
            issue,
            fresh_id,
        })
    }

    /// The experiment ids, in manifest order.
    #[wasm_bindgen(getter)]
    pub fn ids(&self) -> Vec<String> {
        self.manifest
            .experiments()
            .iter()
            .map(|e| e.id.clone())
            .collect()
    }

    /// The device id (to store with consent; it never leaves the device).
    #[wasm_bindgen(getter, js_name = deviceId)]
    pub fn device_id(&self) -> String {
        self.id.as_str().to_owned()
    }

    /// Whether the id was created now (none stored, or the stored one was corrupt).
    #[wasm_bindgen(getter, js_name = newDeviceId)]
    pub fn new_device_id(&self) -> bool {
        self.fresh_id
    }

    /// `{code, message}` when the stored state or id was refused and replaced, else `null`.
    #[wasm_bindgen(getter, js_name = stateIssue)]
    pub fn state_issue(&self) -> JsValue {
        match &self.issue {
            None => JsValue::NULL,
            Some(e) => {
                let o = js_sys::Object::new().into();
                set(&o, "code", e.code.into());
                set(&o, "message", e.to_string().into());
                o
            }
        }
    }

    /// `{experiment, enrolled, arm?, armIndex?, interleaved, reason?}` at `now` (ms since the
    /// epoch). `reason`: `gpc`, `dates`, `namespace`, `unallocated`.
    pub fn assign(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        now_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let exp = self.experiment(&experiment)?;
        let enrollment = self.enrollment(exp, now_ms);
        let o: JsValue = js_sys::Object::new().into();
        set(&o, "experiment", exp.id.as_str().into());
        set(
            &o,
            "enrolled",
            (!matches!(enrollment, Enrollment::NotEnrolled(_))).into(),
        );
        set(
            &o,
            "interleaved",
            matches!(enrollment, Enrollment::Interleaved).into(),
        );
        if let Some(arm) = arm_label(exp, &enrollment) {
            set(&o, "arm", arm.into());
        }
        match enrollment {
            Enrollment::Arm(i) => set(&o, "armIndex", (i as u32).into()),
            Enrollment::NotEnrolled(why) => {
                let reason = match why {
                    NotEnrolled::GlobalPrivacyControl => "gpc",
                    NotEnrolled::OutsideDates => "dates",
                    NotEnrolled::OtherNamespaceRange => "namespace",
                    NotEnrolled::Unallocated => "unallocated",
                };
                set(&o, "reason", reason.into());
            }
            Enrollment::Interleaved => {}
        }
        Ok(o)
    }

    /// The layer-0 label `"<experiment>:<arm>"` for an exposure ping, `null` when not enrolled.
    pub fn label(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        now_ms: f64,
    ) -> Result<Option<String>, JsValue> {
        let exp = self.experiment(&experiment)?;
        Ok(experiment_label(exp, &self.enrollment(exp, now_ms)))
    }

    /// Records that the experiment's shelf would render now (every arm calls it): returns whether
    /// the device is enrolled and now triggered.
    pub fn trigger(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        now_ms: f64,
    ) -> Result<bool, JsValue> {
        let exp = find(&self.manifest, &experiment_arg(&experiment)?)?;
        let enrollment = assign(exp, &self.id, now_ms, self.gpc);
        let Some(arm) = arm_label(exp, &enrollment) else {
            return Ok(false);
        };
        Ok(self.device.record_trigger(exp, &arm, now_ms))
    }

    /// Tallies `event` for a triggered experiment: `shelf_click`, `shelf_add_to_cart`,
    /// `purchase` (`value`: the order's value), `interleaving` (`value` 0: the first arm's team,
    /// 1: the second's). Returns whether it counted (triggered, not reported, inside its window).
    pub fn record(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] event: JsValue,
        value: f64,
        now_ms: f64,
    ) -> Result<bool, JsValue> {
        let experiment = &experiment_arg(&experiment)?;
        // Read with its length checked first (a huge string trapped wasm-bindgen's copy); a
        // string over the bound or not a string is simply not one of the names.
        let name = short_string(&event).ok().flatten().unwrap_or_default();
        let event = match name.as_str() {
            "shelf_click" => DeviceEvent::ShelfClick,
            "shelf_add_to_cart" => DeviceEvent::ShelfAddToCart,
            "purchase" => DeviceEvent::Purchase(value),
            "interleaving" if value == 0.0 => DeviceEvent::Interleaving(Team::A),
            "interleaving" if value == 1.0 => DeviceEvent::Interleaving(Team::B),
            _ => {
                // The page's text is repeated only when short.
                let given = if name.len() <= 64 {
                    name.as_str()
                } else {
                    "…"
                };
                return Err(fail(ExperimentError::new(
                    "invalid_event",
                    "",
                    format!("unknown experiment event '{given}' (shelf_click, shelf_add_to_cart, purchase, interleaving with 0 or 1)"),
                )));
            }
        };
        let exp = find(&self.manifest, experiment)?;
        Ok(self.device.record(exp, event, now_ms))
    }

    /// The engine's `ope` request option for this device's shelf of `experiment` now
    /// (`{share, epsilon, candidateEpsilon}` from the manifest's `report.ope`: pass it to
    /// `recommend`), or `null` when the experiment has no `report.ope` or the device is not in
    /// one of its A/B arms now.
    #[wasm_bindgen(js_name = opeOption)]
    pub fn ope_option(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        now_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let exp = self.experiment(&experiment)?;
        let (Some(ope), Enrollment::Arm(_)) = (&exp.ope, self.enrollment(exp, now_ms)) else {
            return Ok(JsValue::NULL);
        };
        let o: JsValue = js_sys::Object::new().into();
        set(&o, "share", ope.exploration_share.into());
        set(&o, "epsilon", ope.exploration_epsilon.into());
        set(&o, "candidateEpsilon", ope.candidate_epsilon.into());
        Ok(o)
    }

    /// Tallies one release for off-policy evaluation: `propensity` as `recommend` returned it
    /// with the `ope` option, `reward` 1 when that release's shelf was clicked, else 0. Returns
    /// whether it counted (triggered, not reported, inside the window, `report.ope` set). Errors:
    /// `invalid_value` for a propensity that is not one (hostile input).
    #[wasm_bindgen(js_name = recordRelease)]
    pub fn record_release(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        propensity: JsValue,
        reward: f64,
        now_ms: f64,
    ) -> Result<bool, JsValue> {
        let exp = find(&self.manifest, &experiment_arg(&experiment)?)?;
        let Some(settings) = &exp.ope else {
            return Ok(false);
        };
        let p = read::<Propensity>(propensity, Kind::Options, "propensity").map_err(|e| {
            fail(ExperimentError::new(
                "invalid_value",
                "propensity",
                e.to_string(),
            ))
        })?;
        let imp = OpeImpression::of_release(&p, reward, settings).map_err(fail)?;
        Ok(self.device.record(exp, DeviceEvent::Ope(imp), now_ms))
    }

    /// Whether `experiment`'s report is due now (triggered, not reported, its window or the
    /// experiment over): the page records what it still holds for it (a release's impression)
    /// before `takeReports`.
    #[wasm_bindgen(js_name = reportDue)]
    pub fn report_due(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        now_ms: f64,
    ) -> Result<bool, JsValue> {
        let exp = self.experiment(&experiment)?;
        Ok(self.device.report_due(exp, now_ms))
    }

    /// Team-draft interleaving (`crate::experiment::team_draft`) of the first arm's ranking `a`
    /// and the second's `b` (arrays of item ids, best first) into at most `k` distinct ids, for a
    /// device this interleaving experiment enrolls now: `{ids, teams}` (`teams[i]` 0: the first
    /// arm's pick, 1: the second's; credit a click with `record(id, 'interleaving', team)`). The
    /// coin of each even round comes from the CSPRNG. Errors: `not_interleaved` when the device
    /// is not in this experiment's interleaved shelf now (an A/B experiment, dates, namespace,
    /// GPC), `invalid_argument` for lists that are not arrays of strings or a `k` over a
    /// request's [`MAX_K`] (a page's `k` of −1 arrives as 2³² − 1).
    pub fn interleave(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
        a: JsValue,
        b: JsValue,
        k: u32,
        now_ms: f64,
    ) -> Result<JsValue, JsValue> {
        if k as usize > MAX_K {
            return Err(fail(ExperimentError::new(
                "invalid_argument",
                "",
                format!("k must be at most {MAX_K}, got {k}"),
            )));
        }
        let exp = self.experiment(&experiment)?;
        if !matches!(self.enrollment(exp, now_ms), Enrollment::Interleaved) {
            return Err(fail(ExperimentError::new(
                "not_interleaved",
                "",
                format!("this device's shelf of '{}' is not interleaved now", exp.id),
            )));
        }
        let list = |v: &JsValue, which: &str| {
            StrList::from_js(v).map_err(|e| {
                fail(ExperimentError::new(
                    "invalid_argument",
                    "",
                    format!(
                        "invalid ranking {which}: {}",
                        e.reason("expected an array of item ids")
                    ),
                ))
            })
        };
        let (a, b) = (list(&a, "a")?, list(&b, "b")?);
        let drafted = team_draft(&a.strs(), &b.strs(), k as usize, &mut OsRandom::new())
            .map_err(|e| fail(ExperimentError::from(e)))?;
        let ids = Array::new();
        let teams = Array::new();
        for (id, team) in drafted.items.iter().zip(&drafted.teams) {
            ids.push(&JsValue::from_str(id));
            teams.push(&JsValue::from(u32::from(*team == Team::B)));
        }
        let o: JsValue = js_sys::Object::new().into();
        set(&o, "ids", ids.into());
        set(&o, "teams", teams.into());
        Ok(o)
    }

    /// The label for the one order of a triggered experiment; `null` after the first.
    #[wasm_bindgen(js_name = orderLabel)]
    pub fn order_label(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] experiment: JsValue,
    ) -> Result<Option<String>, JsValue> {
        let exp = find(&self.manifest, &experiment_arg(&experiment)?)?;
        Ok(self.device.order_label(exp))
    }

    /// The reports due now, as plain objects: each one's ε is charged and its experiment marked
    /// reported before it is returned (write-ahead: store `exportState()` before sending). A
    /// report that does not fit the measurement budget is not built (and its experiment stays
    /// unreported).
    #[wasm_bindgen(js_name = takeReports)]
    pub fn take_reports(&mut self, now_ms: f64) -> Result<Array, JsValue> {
        let out = Array::new();
        let mut rng = OsRandom::new();
        for exp in self.manifest.experiments() {
            match self.device.take_report(exp, now_ms, &mut rng) {
                Ok(Some(report)) => {
                    out.push(&write(&report));
                }
                Ok(None) => {}
                Err(e) if e.code == "measurement_budget" => {}
                Err(e) => return Err(fail(e)),
            }
        }
        Ok(out)
    }

    /// The state as a plain object (its JSON is what `new Experiments` restores), to store with
    /// consent.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> JsValue {
        write(&self.device)
    }

    /// `{budgetEpsilon, spentEpsilon, experiments, reports}`: the measurement budget.
    pub fn status(&self) -> JsValue {
        let s = self.device.status();
        let o: JsValue = js_sys::Object::new().into();
        set(&o, "budgetEpsilon", s.budget_epsilon.into());
        set(&o, "spentEpsilon", s.spent_epsilon.into());
        set(&o, "experiments", (s.experiments as u32).into());
        set(&o, "reports", (s.reports as u32).into());
        o
    }

    /// Forgets the tallies (not the spent budget).
    pub fn forget(&mut self) {
        self.device.forget();
    }
}
