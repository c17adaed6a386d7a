//! A state machine as a graph, laid out top to bottom: states as boxes with
//! their name and type, transitions as arrows (Choice branches labelled with
//! their rule, Catch edges dashed, loops curving back on the right), and
//! Parallel branches and Map processors as nested groups. Drawn in an
//! `egui::Scene` (pan with a drag, zoom with Ctrl and the wheel); a click on
//! a state selects it. States can be coloured by an execution's progress.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use egui::{
    Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, StrokeKind, Ui, Vec2, pos2, vec2,
};

use super::theme;
use crate::host::states::Event;
use crate::model::states::definition::{Kind, StateMachine};

const NODE: Vec2 = vec2(180.0, 42.0);
const GAP_X: f32 = 28.0;
const GAP_Y: f32 = 44.0;
const PAD: f32 = 12.0;
const TITLE: f32 = 30.0;

/// How far a state got in an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Entered and not left.
    InProgress,
    /// Left normally.
    Succeeded,
    /// Failed (and not caught).
    Failed,
    /// Failed and a Catch took the error.
    Caught,
}

impl Progress {
    /// As the legend says it.
    pub fn label(self) -> &'static str {
        match self {
            Self::InProgress => "in progress",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Caught => "caught error",
        }
    }

    /// Its colour in the theme.
    pub fn color(self, dark: bool) -> Color32 {
        match self {
            Self::InProgress => theme::cold(dark),
            Self::Succeeded => theme::ok(dark),
            Self::Failed => theme::error(dark),
            Self::Caught => theme::warm(dark),
        }
    }
}

/// Each state's progress in an execution, read from its history.
pub fn progress(events: &[Event]) -> BTreeMap<String, Progress> {
    let mut by_id: BTreeMap<u64, &Event> = BTreeMap::new();
    let mut out = BTreeMap::new();
    // The state each event belongs to: the nearest StateEntered up its chain.
    let owner = |by_id: &BTreeMap<u64, &Event>, mut id: u64| -> Option<String> {
        for _ in 0..10_000 {
            let e = by_id.get(&id)?;
            if e.kind.ends_with("StateEntered") {
                return e
                    .details
                    .as_ref()
                    .and_then(|(_, d)| d["name"].as_str())
                    .map(str::to_owned);
            }
            id = e.previous_event_id;
        }
        None
    };
    let mut failed_at: BTreeMap<u64, String> = BTreeMap::new();
    for e in events {
        by_id.insert(e.id, e);
        let name = || {
            e.details
                .as_ref()
                .and_then(|(_, d)| d["name"].as_str())
                .map(str::to_owned)
        };
        if e.kind == "FailStateEntered" {
            if let Some(n) = name() {
                out.insert(n, Progress::Failed);
            }
        } else if e.kind.ends_with("StateEntered") {
            if let Some(n) = name() {
                if failed_at.contains_key(&e.previous_event_id)
                    && let Some(f) = failed_at.get(&e.previous_event_id)
                {
                    out.insert(f.clone(), Progress::Caught);
                }
                out.insert(n, Progress::InProgress);
            }
        } else if e.kind.ends_with("StateExited") {
            if let Some(n) = name() {
                out.insert(n, Progress::Succeeded);
            }
        } else if e.kind.ends_with("Scheduled") {
            // A retry: the state is running again.
            if let Some(n) = owner(&by_id, e.id) {
                out.insert(n, Progress::InProgress);
            }
        } else if e.kind.ends_with("Failed")
            && !e.kind.starts_with("Execution")
            && !e.kind.starts_with("MapIteration")
            && let Some(n) = owner(&by_id, e.id)
        {
            out.insert(n.clone(), Progress::Failed);
            failed_at.insert(e.id, n);
        }
    }
    out
}

/// A laid-out state.
#[derive(Clone, Debug)]
struct Node {
    name: String,
    type_name: &'static str,
    rect: Rect,
    inner: Vec<Graph>,
}

#[derive(Clone, Debug)]
struct Edge {
    from: usize,
    to: usize,
    label: Option<String>,
    dashed: bool,
}

/// A laid-out machine.
#[derive(Clone, Debug)]
pub struct Graph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    level: Vec<usize>,
    size: Vec2,
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Lays out `m` (and its nested machines), top to bottom by distance from StartAt.
pub fn layout(m: &StateMachine) -> Graph {
    let index: BTreeMap<&str, usize> = m
        .states
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut edges = Vec::new();
    for (i, s) in m.states.iter().enumerate() {
        let mut add = |to: &str, label: Option<String>, dashed: bool| {
            if let Some(&t) = index.get(to) {
                edges.push(Edge {
                    from: i,
                    to: t,
                    label,
                    dashed,
                });
            }
        };
        if let Some(n) = &s.next {
            add(n, None, false);
        }
        if let Kind::Choice { choices, default } = &s.kind {
            for c in choices {
                add(&c.next, Some(short(&c.condition.describe(), 28)), false);
            }
            if let Some(d) = default {
                add(d, Some("Default".to_owned()), false);
            }
        }
        for c in &s.catch {
            add(
                &c.next,
                Some(format!("Catch {}", short(&c.error_equals.join(", "), 20))),
                true,
            );
        }
    }
    // Levels: breadth-first distance from StartAt; unreachable states last.
    let mut level = vec![usize::MAX; m.states.len()];
    let mut order = Vec::new();
    let mut queue = VecDeque::new();
    if let Some(&s) = index.get(m.start_at.as_str()) {
        level[s] = 0;
        queue.push_back(s);
    }
    while let Some(i) = queue.pop_front() {
        order.push(i);
        for e in edges.iter().filter(|e| e.from == i) {
            if level[e.to] == usize::MAX {
                level[e.to] = level[i] + 1;
                queue.push_back(e.to);
            }
        }
    }
    let deepest = level
        .iter()
        .filter(|l| **l != usize::MAX)
        .max()
        .copied()
        .unwrap_or(0);
    for (i, l) in level.iter_mut().enumerate() {
        if *l == usize::MAX {
            *l = deepest + 1;
            order.push(i);
        }
    }
    // Sizes (nested machines first).
    let mut nodes: Vec<Node> = m
        .states
        .iter()
        .map(|s| {
            let inner: Vec<Graph> = match &s.kind {
                Kind::Parallel { branches } => branches.iter().map(layout).collect(),
                Kind::Map(map) => vec![layout(&map.processor)],
                _ => Vec::new(),
            };
            let size = if inner.is_empty() {
                NODE
            } else {
                let w: f32 =
                    inner.iter().map(|g| g.size.x).sum::<f32>() + GAP_X * (inner.len() - 1) as f32;
                let h = inner.iter().map(|g| g.size.y).fold(0.0, f32::max);
                vec2((w + 2.0 * PAD).max(NODE.x), h + TITLE + 2.0 * PAD)
            };
            Node {
                name: s.name.clone(),
                type_name: s.kind.type_name(),
                rect: Rect::from_min_size(Pos2::ZERO, size),
                inner,
            }
        })
        .collect();
    // Rows.
    let rows = level.iter().copied().max().map_or(0, |l| l + 1);
    let mut row_members: Vec<Vec<usize>> = vec![Vec::new(); rows];
    for &i in &order {
        row_members[level[i]].push(i);
    }
    let widths: Vec<f32> = row_members
        .iter()
        .map(|r| {
            r.iter().map(|&i| nodes[i].rect.width()).sum::<f32>()
                + GAP_X * r.len().saturating_sub(1) as f32
        })
        .collect();
    let total_w = widths.iter().copied().fold(NODE.x, f32::max);
    let mut y = 0.0;
    for (row, members) in row_members.iter().enumerate() {
        let mut x = (total_w - widths[row]) / 2.0;
        let h = members
            .iter()
            .map(|&i| nodes[i].rect.height())
            .fold(0.0, f32::max);
        for &i in members {
            let size = nodes[i].rect.size();
            nodes[i].rect = Rect::from_min_size(pos2(x, y), size);
            x += size.x + GAP_X;
        }
        y += h + GAP_Y;
    }
    // Room on the right for loops.
    let loops = edges.iter().any(|e| level[e.to] <= level[e.from]);
    Graph {
        nodes,
        edges,
        level,
        size: vec2(
            total_w + if loops { 60.0 } else { 0.0 },
            (y - GAP_Y).max(NODE.y),
        ),
    }
}

/// What drawing needs besides the graph.
pub struct Look<'a> {
    /// Each state's progress (empty: no execution shown).
    pub progress: &'a BTreeMap<String, Progress>,
    /// The state selected.
    pub selected: Option<&'a str>,
    /// The theme.
    pub dark: bool,
}

impl Graph {
    /// The state names, in order (for tests and lists).
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for n in &self.nodes {
            out.push(n.name.as_str());
            for g in &n.inner {
                out.extend(g.names());
            }
        }
        out
    }

    /// Draws the graph with its top-left at `origin`; returns the state clicked.
    pub fn draw(&self, ui: &mut Ui, origin: Pos2, look: &Look<'_>) -> Option<String> {
        let mut clicked = None;
        let text = ui.visuals().text_color();
        let weak = ui.visuals().weak_text_color();
        let edge = Stroke::new(1.4, weak);
        let painter = ui.painter().clone();
        let at = |r: Rect| r.translate(origin.to_vec2());
        for e in &self.edges {
            let (a, b) = (at(self.nodes[e.from].rect), at(self.nodes[e.to].rect));
            let back = self.level[e.to] <= self.level[e.from];
            let points: Vec<Pos2> = if back {
                let start = a.right_center();
                let end = b.right_center();
                let out = start.x.max(end.x) + 40.0;
                egui::epaint::CubicBezierShape::from_points_stroke(
                    [start, pos2(out, start.y), pos2(out, end.y), end],
                    false,
                    Color32::TRANSPARENT,
                    edge,
                )
                .flatten(Some(1.0))
            } else {
                let start = a.center_bottom();
                let end = b.center_top();
                let mid = (start.y + end.y) / 2.0;
                egui::epaint::CubicBezierShape::from_points_stroke(
                    [start, pos2(start.x, mid), pos2(end.x, mid), end],
                    false,
                    Color32::TRANSPARENT,
                    edge,
                )
                .flatten(Some(1.0))
            };
            if e.dashed {
                painter.extend(Shape::dashed_line(&points, edge, 5.0, 4.0));
            } else {
                painter.add(Shape::line(points.clone(), edge));
            }
            if let (Some(&end), Some(&before)) =
                (points.last(), points.get(points.len().saturating_sub(4)))
            {
                let dir = (end - before).normalized() * 9.0;
                painter.arrow(end - dir, dir, edge);
            }
            if let Some(label) = &e.label {
                let p = points[points.len() / 2];
                let galley =
                    painter.layout_no_wrap(label.clone(), FontId::proportional(11.0), weak);
                let r = Rect::from_center_size(p, galley.size() + vec2(6.0, 2.0));
                painter.rect_filled(r, 3.0, ui.visuals().extreme_bg_color);
                painter.galley(r.min + vec2(3.0, 1.0), galley, weak);
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let r = at(n.rect);
            let status = look.progress.get(&n.name).copied();
            let selected = look.selected == Some(n.name.as_str());
            let fill = match status {
                Some(p) => p.color(look.dark).gamma_multiply(0.25),
                None => ui.visuals().faint_bg_color,
            };
            let stroke = match (status, selected) {
                (_, true) => Stroke::new(2.5, ui.visuals().selection.stroke.color),
                (Some(p), false) => Stroke::new(1.6, p.color(look.dark)),
                (None, false) => Stroke::new(1.0, weak),
            };
            let resp = ui.interact(r, ui.scope_id().with(("state", &n.name, i)), Sense::click());
            painter.rect(r, 6.0, fill, stroke, StrokeKind::Inside);
            let title_y = if n.inner.is_empty() {
                r.center().y - 7.0
            } else {
                r.top() + 10.0
            };
            painter.text(
                pos2(r.center().x, title_y),
                Align2::CENTER_CENTER,
                short(&n.name, 24),
                FontId::proportional(13.0),
                text,
            );
            painter.text(
                pos2(r.center().x, title_y + 14.0),
                Align2::CENTER_CENTER,
                n.type_name,
                FontId::proportional(11.0),
                weak,
            );
            let resp = resp.on_hover_text(format!(
                "{} ({}){}",
                n.name,
                n.type_name,
                status
                    .map(|p| format!(": {}", p.label()))
                    .unwrap_or_default()
            ));
            if resp.clicked() {
                clicked = Some(n.name.clone());
            }
            let mut x = r.left() + PAD;
            for g in &n.inner {
                let inner_origin = pos2(x, r.top() + TITLE + PAD);
                painter.rect_stroke(
                    Rect::from_min_size(inner_origin - vec2(4.0, 4.0), g.size + vec2(8.0, 8.0)),
                    4.0,
                    Stroke::new(1.0, weak.gamma_multiply(0.5)),
                    StrokeKind::Outside,
                );
                if let Some(c) = g.draw(ui, inner_origin, look) {
                    clicked = Some(c);
                }
                x += g.size.x + GAP_X;
            }
        }
        clicked
    }

    /// Its size.
    pub fn size(&self) -> Vec2 {
        self.size
    }
}

/// Every state name of a machine and its nested machines.
pub fn all_states(m: &StateMachine) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in &m.states {
        out.insert(s.name.clone());
        match &s.kind {
            Kind::Parallel { branches } => branches.iter().for_each(|b| out.extend(all_states(b))),
            Kind::Map(map) => out.extend(all_states(&map.processor)),
            _ => {}
        }
    }
    out
}
