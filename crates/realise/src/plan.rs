//! Deciding what to build: from the goals (derivation outputs or plain paths) to the graph of
//! derivations whose outputs are missing, each with the inputs that must be built first.
//!
//! As in Nix, a derivation whose wanted outputs are all valid is not looked into: its inputs
//! need not exist. A derivation that must be built builds all its outputs, and needs the
//! outputs its inputs are used for.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kiln_cache::{SubstEvent, Substituters};
use kiln_formats::derivation::{drv_name, Derivation, DerivationOutput};
use kiln_formats::store_path::StorePath;
use kiln_store::{LocalStore, Store};

use crate::BuildError;

/// Which outputs of a derivation are wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputsSpec {
    /// All of them (`drv^*`).
    All,
    /// These (`drv^out,dev`).
    Names(BTreeSet<String>),
}

/// Something to realise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    /// Outputs of a store derivation.
    Drv {
        /// The `.drv` path.
        drv: StorePath,
        /// The outputs wanted.
        outputs: OutputsSpec,
    },
    /// A plain store path, which must be valid (nothing can build it without substituters).
    Opaque(StorePath),
}

impl Goal {
    /// Parses an installable that names store objects, as Nix's derived paths: `DRV^out,dev`
    /// (those outputs), `DRV^*` or a `.drv` path alone (all of them), or any other store path
    /// (which must then be valid). `arg` is an absolute path in `store`'s directory; what
    /// follows a store path's name inside it (`/bin/x`) is ignored, as in Nix.
    pub fn parse(store: &LocalStore, arg: &str) -> Result<Goal, kiln_store::StoreError> {
        let (path, outputs) = match arg.split_once('^') {
            Some((p, o)) => (p, Some(o)),
            None => (arg, None),
        };
        let path = store.parse_path(path)?;
        Ok(match outputs {
            Some("*") => Goal::Drv {
                drv: path,
                outputs: OutputsSpec::All,
            },
            Some(o) => Goal::Drv {
                drv: path,
                outputs: OutputsSpec::Names(o.split(',').map(str::to_owned).collect()),
            },
            None if path.is_derivation() => Goal::Drv {
                drv: path,
                outputs: OutputsSpec::All,
            },
            None => Goal::Opaque(path),
        })
    }
}

/// One derivation to build.
#[derive(Debug)]
pub struct Node {
    /// The `.drv` path.
    pub drv_path: StorePath,
    /// The derivation.
    pub drv: Derivation,
    /// The derivation's name (`drv_path` without `.drv`).
    pub name: String,
    /// Every output's path.
    pub outputs: BTreeMap<String, StorePath>,
    /// The paths the builder needs: its sources and the used outputs of its input derivations.
    pub inputs: BTreeSet<StorePath>,
    /// Nodes that must be built first (indices into [`Plan::nodes`]).
    pub deps: Vec<usize>,
    /// Nodes waiting for this one.
    pub dependents: Vec<usize>,
    /// Whether it is a goal of `--check` (rebuilt although valid).
    pub check: bool,
}

/// What realising the goals takes.
#[derive(Debug, Default)]
pub struct Plan {
    /// The derivations to build, each after its `deps`.
    pub nodes: Vec<Node>,
    /// The paths to fetch from binary caches instead (wanted outputs and missing sources,
    /// with the parts of their closures the store lacks), references first.
    pub fetch: kiln_cache::Plan,
    /// The output paths of each goal, in the goals' order (output name → path; a plain path
    /// is listed under the name `""`).
    pub results: Vec<BTreeMap<String, StorePath>>,
    /// The nodes that build a goal, in the goals' order (a goal whose outputs are all valid
    /// has none): Nix's top-level goals, whose failures are reported last.
    pub goal_nodes: Vec<usize>,
}

impl Plan {
    /// The `.drv` paths to build, each after the ones it needs, in the order Nix prints them:
    /// a depth-first walk over the paths in path order, inputs first.
    pub fn to_build(&self) -> Vec<&StorePath> {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by(|&a, &b| self.nodes[a].drv_path.cmp(&self.nodes[b].drv_path));
        let mut done = vec![false; self.nodes.len()];
        let mut res = Vec::with_capacity(self.nodes.len());
        for start in order {
            if done[start] {
                continue;
            }
            done[start] = true;
            let mut stack = vec![(start, self.sorted_deps(start), 0usize)];
            while let Some((node, deps, next)) = stack.last_mut() {
                if *next == deps.len() {
                    res.push(&self.nodes[*node].drv_path);
                    stack.pop();
                    continue;
                }
                let d = deps[*next];
                *next += 1;
                if !done[d] {
                    done[d] = true;
                    let dd = self.sorted_deps(d);
                    stack.push((d, dd, 0));
                }
            }
        }
        res
    }

    fn sorted_deps(&self, i: usize) -> Vec<usize> {
        let mut deps = self.nodes[i].deps.clone();
        deps.sort_by(|&a, &b| self.nodes[a].drv_path.cmp(&self.nodes[b].drv_path));
        deps
    }
}

/// Reads the derivation at `path` from the store; it must be valid.
pub fn read_derivation(store: &LocalStore, path: &StorePath) -> Result<Derivation, BuildError> {
    let abs = path.to_absolute(store.store_dir());
    if !store.is_valid_path(path)? {
        return Err(BuildError::Missing(abs));
    }
    let real = store.real_path(path);
    let bytes = std::fs::read(&real).map_err(|e| BuildError::io("reading", &real, e))?;
    Derivation::parse(&bytes, store.store_dir()).map_err(|e| BuildError::Setup {
        drv: abs,
        message: format!("it is not a valid derivation: {e}"),
    })
}

/// The output paths of `drv`; fails for outputs whose path is not known in advance
/// (content-addressed derivations, which Kiln does not build yet).
pub fn output_paths(
    drv: &Derivation,
    drv_path: &str,
) -> Result<BTreeMap<String, StorePath>, BuildError> {
    drv.outputs
        .iter()
        .map(|(name, o)| match o {
            DerivationOutput::InputAddressed(p)
            | DerivationOutput::Fixed {
                path: Some(p), ..
            } => Ok((name.clone(), p.clone())),
            _ => Err(BuildError::Setup {
                drv: drv_path.to_owned(),
                message: format!(
                    "output '{name}' has no path yet (content-addressed derivations are not supported)"
                ),
            }),
        })
        .collect()
}

/// The caches a plan may fetch from, and who hears about them.
#[derive(Clone, Copy)]
pub struct Substitution<'a> {
    /// The caches.
    pub subs: &'a Substituters,
    /// Told about caches that are down and narinfos that are refused.
    pub observe: &'a (dyn Fn(SubstEvent<'_>) + Sync),
}

struct Planner<'s> {
    store: &'s LocalStore,
    subs: Option<Substitution<'s>>,
    /// Paths whose closures the caches have, to fetch.
    fetch: BTreeSet<StorePath>,
    plan: Plan,
    index: HashMap<StorePath, usize>,
    /// Derivations read so far.
    drvs: HashMap<StorePath, Derivation>,
}

impl Planner<'_> {
    /// Whether the caches have `paths` with everything they refer to that the store lacks;
    /// if so, they are fetched instead of built.
    fn substitutable(&mut self, paths: &[&StorePath]) -> Result<bool, BuildError> {
        let Some(sub) = self.subs else {
            return Ok(false);
        };
        if paths.is_empty() {
            return Ok(true);
        }
        let wanted: BTreeSet<StorePath> = paths.iter().map(|p| (*p).clone()).collect();
        let plan = sub.subs.plan(self.store, &wanted, sub.observe)?;
        if !plan.missing.is_empty() {
            return Ok(false);
        }
        self.fetch.extend(wanted);
        Ok(true)
    }

    fn derivation(&mut self, path: &StorePath) -> Result<Derivation, BuildError> {
        if let Some(d) = self.drvs.get(path) {
            return Ok(d.clone());
        }
        let d = read_derivation(self.store, path)?;
        self.drvs.insert(path.clone(), d.clone());
        Ok(d)
    }

    /// Makes sure the `wanted` outputs of `path` will be valid; returns the node that builds
    /// them, if one must.
    fn want(
        &mut self,
        path: &StorePath,
        wanted: &OutputsSpec,
        check: bool,
    ) -> Result<(Option<usize>, BTreeMap<String, StorePath>), BuildError> {
        let drv = self.derivation(path)?;
        let abs = path.to_absolute(self.store.store_dir());
        let outputs = output_paths(&drv, &abs)?;
        let selected: BTreeMap<String, StorePath> = match wanted {
            OutputsSpec::All => outputs.clone(),
            OutputsSpec::Names(names) => names
                .iter()
                .map(|n| match outputs.get(n) {
                    Some(p) => Ok((n.clone(), p.clone())),
                    None => Err(BuildError::Setup {
                        drv: abs.clone(),
                        message: format!("it has no output named '{n}'"),
                    }),
                })
                .collect::<Result<_, _>>()?,
        };
        if let Some(&i) = self.index.get(path) {
            if check {
                self.plan.nodes[i].check = true;
            }
            return Ok((Some(i), selected));
        }
        if !check {
            let mut missing = Vec::new();
            for p in selected.values() {
                if !self.store.is_valid_path(p)? {
                    missing.push(p);
                }
            }
            // Nix's order: what is valid is used, what a cache has is fetched, and only then
            // is the derivation built.
            if missing.is_empty() || self.substitutable(&missing)? {
                return Ok((None, selected));
            }
        }
        let i = self.plan.nodes.len();
        self.index.insert(path.clone(), i);
        let name = drv_name(path).unwrap_or(path.name()).to_owned();
        self.plan.nodes.push(Node {
            drv_path: path.clone(),
            drv: drv.clone(),
            name,
            outputs,
            inputs: drv.input_srcs.clone(),
            deps: Vec::new(),
            dependents: Vec::new(),
            check,
        });
        let mut deps = BTreeSet::new();
        for (input, outs) in &drv.input_drvs {
            let (dep, used) = self.want(input, &OutputsSpec::Names(outs.clone()), false)?;
            deps.extend(dep);
            self.plan.nodes[i].inputs.extend(used.into_values());
        }
        for src in &drv.input_srcs {
            if !self.store.is_valid_path(src)? && !self.substitutable(&[src])? {
                return Err(BuildError::Missing(src.to_absolute(self.store.store_dir())));
            }
        }
        for &d in &deps {
            self.plan.nodes[d].dependents.push(i);
        }
        self.plan.nodes[i].deps = deps.into_iter().collect();
        Ok((Some(i), selected))
    }
}

/// Works out what realising `goals` takes. With `check`, the goals' derivations are rebuilt
/// even when their outputs are valid (their inputs are not). With `subs`, missing outputs and
/// sources that the caches have are fetched rather than built.
pub fn plan(
    store: &LocalStore,
    goals: &[Goal],
    check: bool,
    subs: Option<Substitution<'_>>,
) -> Result<Plan, BuildError> {
    let mut p = Planner {
        store,
        subs,
        fetch: BTreeSet::new(),
        plan: Plan::default(),
        index: HashMap::new(),
        drvs: HashMap::new(),
    };
    for goal in goals {
        let res = match goal {
            Goal::Drv { drv, outputs } => {
                let (node, res) = p.want(drv, outputs, check)?;
                if let Some(i) = node {
                    if !p.plan.goal_nodes.contains(&i) {
                        p.plan.goal_nodes.push(i);
                    }
                }
                res
            }
            Goal::Opaque(path) => {
                if !store.is_valid_path(path)? && !p.substitutable(&[path])? {
                    return Err(BuildError::Missing(path.to_absolute(store.store_dir())));
                }
                BTreeMap::from([(String::new(), path.clone())])
            }
        };
        p.plan.results.push(res);
    }
    if let (Some(sub), false) = (subs, p.fetch.is_empty()) {
        // Every query is remembered, so this only orders what was found.
        p.plan.fetch = sub.subs.plan(store, &p.fetch, sub.observe)?;
    }
    Ok(p.plan)
}
