//! Ready-made state machines to start from, as the Step Functions console
//! offers templates: each runs as it is on the built-in sample functions
//! (`sum`, `hello`, `behave`).

/// One blueprint: a name, what it shows, and its definition.
#[derive(Clone, Copy, Debug)]
pub struct Blueprint {
    /// Short name (also the new machine's name).
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// The definition (Amazon States Language JSON).
    pub definition: &'static str,
    /// An input it runs with.
    pub input: &'static str,
}

/// Every blueprint, in the order the app offers them.
pub const BLUEPRINTS: &[Blueprint] = &[
    Blueprint {
        name: "sequence",
        description: "Two tasks in a row: sum two numbers, then greet with the result",
        definition: r#"{
  "Comment": "Sum two numbers, then greet with the result.",
  "StartAt": "Add",
  "States": {
    "Add": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:sum",
      "ResultPath": "$.sum",
      "Next": "Greet"
    },
    "Greet": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "hello",
        "Payload": {
          "name.$": "States.Format('the sum {}', $.sum)"
        }
      },
      "ResultSelector": {
        "message.$": "$.Payload.message"
      },
      "End": true
    }
  }
}"#,
        input: r#"{"value1": 20, "value2": 22}"#,
    },
    Blueprint {
        name: "choice",
        description: "Branch on the data: big and small sums go different ways",
        definition: r#"{
  "Comment": "Branch on the sum.",
  "StartAt": "Add",
  "States": {
    "Add": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:sum",
      "ResultPath": "$.sum",
      "Next": "Big or small?"
    },
    "Big or small?": {
      "Type": "Choice",
      "Choices": [
        {
          "Variable": "$.sum",
          "NumericGreaterThan": 100,
          "Next": "Big"
        }
      ],
      "Default": "Small"
    },
    "Big": {
      "Type": "Pass",
      "Result": "big",
      "ResultPath": "$.size",
      "End": true
    },
    "Small": {
      "Type": "Fail",
      "Error": "TooSmall",
      "Cause": "The sum is 100 or less."
    }
  }
}"#,
        input: r#"{"value1": 70, "value2": 50}"#,
    },
    Blueprint {
        name: "retrying-task",
        description: "A task that fails, retried with backoff, then caught",
        definition: r#"{
  "Comment": "Retry a failing task with backoff, then catch its error.",
  "StartAt": "Flaky",
  "States": {
    "Flaky": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:behave",
      "Retry": [
        {
          "ErrorEquals": ["BehaveError"],
          "IntervalSeconds": 2,
          "MaxAttempts": 3,
          "BackoffRate": 2,
          "JitterStrategy": "FULL"
        }
      ],
      "Catch": [
        {
          "ErrorEquals": ["States.ALL"],
          "ResultPath": "$.error",
          "Next": "Recover"
        }
      ],
      "End": true
    },
    "Recover": {
      "Type": "Pass",
      "Result": "recovered",
      "ResultPath": "$.status",
      "End": true
    }
  }
}"#,
        input: r#"{"action": "error"}"#,
    },
    Blueprint {
        name: "parallel-fan-out",
        description: "Branches running at once, their results joined",
        definition: r#"{
  "Comment": "Two branches at once.",
  "StartAt": "Fan out",
  "States": {
    "Fan out": {
      "Type": "Parallel",
      "Branches": [
        {
          "StartAt": "Add",
          "States": {
            "Add": {
              "Type": "Task",
              "Resource": "arn:aws:lambda:us-east-1:123456789012:function:sum",
              "End": true
            }
          }
        },
        {
          "StartAt": "Greet",
          "States": {
            "Greet": {
              "Type": "Task",
              "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hello",
              "Parameters": {"name": "parallel"},
              "OutputPath": "$.message",
              "End": true
            }
          }
        }
      ],
      "End": true
    }
  }
}"#,
        input: r#"{"value1": 1, "value2": 2}"#,
    },
    Blueprint {
        name: "map",
        description: "A task for each item, a few at once",
        definition: r#"{
  "Comment": "Sum each pair, three at a time.",
  "StartAt": "Each pair",
  "States": {
    "Each pair": {
      "Type": "Map",
      "ItemsPath": "$.pairs",
      "MaxConcurrency": 3,
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "Add",
        "States": {
          "Add": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:sum",
            "End": true
          }
        }
      },
      "End": true
    }
  }
}"#,
        input: r#"{"pairs": [{"value1": 1, "value2": 2}, {"value1": 3, "value2": 4}, {"value1": 5, "value2": 6}, {"value1": 7, "value2": 8}]}"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_blueprint_is_a_valid_machine_with_json_input() {
        for b in BLUEPRINTS {
            super::super::definition::parse(b.definition)
                .unwrap_or_else(|p| panic!("{}: {p:#?}", b.name));
            serde_json::from_str::<serde_json::Value>(b.input).unwrap();
        }
    }
}
