package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// rareRequests are permissions the controller needs that the e2e run may
// not exercise, so its audit log need not show them; each names the code
// that uses it and when.
var rareRequests = map[string]string{
	"update batch.example.com/sequentialjobs/finalizers": "not a request: the OwnerReferencesPermissionEnforcement admission plugin (on in the local cluster) " +
		"checks it when the controller creates a Job whose owner reference sets blockOwnerDeletion",
	"update batch.example.com/sequentialcronjobs/finalizers": "not a request: the OwnerReferencesPermissionEnforcement admission plugin " +
		"checks it when the cron controller creates a run (reconciler/cron) whose owner reference sets blockOwnerDeletion",
	"get batch/jobs": "reconciler/observe.go lookUpJobName: a running step's Job the cache does not show is read live " +
		"before the step is failed as JobDeleted (a lagging cache), and a foreign Job that holds a step's name",
	"get batch.example.com/sequentialjobs": "reconciler/observe.go: when the cache has not shown the controller's own last writes, " +
		"it reads the SequentialJob live (cacheStale)",
	"list batch.example.com/sequentialjobs": "the informer lists when the apiserver does not stream its initial list " +
		"(WatchList); this apiserver streams it, older ones do not",
	"list batch.example.com/sequentialcronjobs": "the cron controller's informer lists when the apiserver does not stream " +
		"its initial list (WatchList); this apiserver streams it, older ones do not",
	"list /pods": "the pod informer lists when the apiserver does not stream its initial list (WatchList); " +
		"reconciler/observe.go podsOf lists a Job's pods live when the cache does not yet show every finished pod the Job counts",
}

// auditEvent is the part of an apiserver audit event (audit.k8s.io/v1)
// that tells what was asked and what the authorizer decided.
type auditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		APIGroup    string `json:"apiGroup"`
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
	} `json:"objectRef"`
	Annotations map[string]string `json:"annotations"`
}

// permission is one verb on one resource, as "verb group/resource[/sub]",
// in a namespace for a Role ("" for a ClusterRole).
type permission struct{ namespace, what string }

// checkLeastPrivilege compares the shipped roles of the controller (the
// generated ClusterRole and the leader election Role) with the audit log of
// the whole e2e run, in which the controller ran as its ServiceAccount
// bound by those roles only. It fails when a rule grants something the
// controller never asked for (unless rareRequests says why it is needed),
// and when the apiserver denied the controller anything.
func checkLeastPrivilege(auditLog string) error {
	used, denied, err := controllerRequests(auditLog)
	if err != nil {
		return err
	}
	var problems []string
	for _, d := range denied {
		problems = append(problems, "denied: "+d)
	}
	granted, err := shippedPermissions()
	if err != nil {
		return err
	}
	for _, p := range granted {
		if _, ok := rareRequests[p.what]; ok {
			continue
		}
		if used[p] == 0 && (p.namespace != "" || usedAnywhere(used, p.what) == 0) {
			where := "cluster-wide"
			if p.namespace != "" {
				where = "in " + p.namespace
			}
			problems = append(problems, fmt.Sprintf("granted but never used %s: %s", where, p.what))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "\n  ") + "\n(audit log: " + auditLog + ")")
	}
	return nil
}

// controllerRequests counts the controller's requests by permission, from
// the audit log, and lists the ones the authorizer denied.
func controllerRequests(path string) (used map[permission]int, denied []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = f.Close() }() // read side: nothing is lost
	used = map[permission]int{}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var e auditEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			return nil, nil, err
		}
		if e.User.Username != controllerUser {
			continue
		}
		if e.Annotations["authorization.k8s.io/decision"] == "forbid" {
			denied = append(denied, e.Verb+" "+e.RequestURI)
		}
		if e.ObjectRef == nil {
			continue // discovery and other non-resource URLs: every user may
		}
		what := e.Verb + " " + e.ObjectRef.APIGroup + "/" + e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			what += "/" + e.ObjectRef.Subresource
		}
		used[permission{e.ObjectRef.Namespace, what}]++
	}
	if len(used) == 0 {
		return nil, nil, fmt.Errorf("%s holds no request of %s: is the controller running as its ServiceAccount?", path, controllerUser)
	}
	return used, denied, scanner.Err()
}

func usedAnywhere(used map[permission]int, what string) int {
	n := 0
	for p, c := range used {
		if p.what == what {
			n += c
		}
	}
	return n
}

// shippedPermissions expands the rules of the controller's shipped roles
// into single permissions.
func shippedPermissions() ([]permission, error) {
	var out []permission
	for _, file := range []string{"role.yaml", "leader_election_role.yaml"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(), "config", "rbac", file))
		if err != nil {
			return nil, err
		}
		var role rbacv1.Role // a ClusterRole's rules read the same
		if err := yaml.Unmarshal(data, &role); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(role.Rules) == 0 {
			return nil, fmt.Errorf("%s: no rules", file)
		}
		for _, r := range role.Rules {
			if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
				return nil, fmt.Errorf("%s: a rule this check does not read: %+v", file, r)
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						out = append(out, permission{role.Namespace, v + " " + g + "/" + res})
					}
				}
			}
		}
	}
	return out, nil
}
