package main

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// OperatorProvided lists the Secrets (and their keys) that the base references but does not
// contain: the operator creates them in the target namespace (deploy/k8s/README.md).
var OperatorProvided = map[string][]string{
	"Secret/sightline-db":      {"DATABASE_URL"},
	"Secret/sightline-auth":    {"AUTH_KEYS"},
	"Secret/sightline-mailbox": {"SECRET_KEYS"},
}

// newObject returns the typed struct for an apiVersion/kind; anything else is refused.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "batch/v1/Job":
		return &batchv1.Job{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	}
	return nil, false
}

// Build runs kustomize in-process on dir (a directory of fsys) and decodes every object strictly.
func Build(fsys filesys.FileSystem, dir string) ([]any, error) {
	opts := krusty.MakeDefaultOptions()
	rm, err := krusty.MakeKustomizer(opts).Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []any
	var errs []string
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		obj, err := DecodeStrict(y)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s/%s: %v", r.GetKind(), r.GetName(), err))
			continue
		}
		objs = append(objs, obj)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: objects that do not decode strictly:\n  %s", dir, strings.Join(errs, "\n  "))
	}
	return objs, nil
}

// DecodeStrict decodes one YAML object into its typed k8s.io/api struct, refusing unknown,
// duplicate and wrongly-cased fields and unknown kinds.
func DecodeStrict(y []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return nil, err
	}
	obj, ok := newObject(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q is not one the check knows (add it to newObject)", tm.APIVersion, tm.Kind)
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, obj, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		var msgs []string
		for _, e := range strictErrs {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("strict decoding: %s", strings.Join(msgs, "; "))
	}
	return obj, nil
}

// workload is a pod template with the object that owns it.
type workload struct {
	id       string
	kind     string
	name     string
	selector *metav1.LabelSelector
	pod      *corev1.PodTemplateSpec
}

type checker struct {
	problems []string
}

func (c *checker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// Check returns every consistency problem of one build's objects.
func Check(objs []any) []string {
	c := &checker{}
	var (
		workloads []workload
		services  []*corev1.Service
		pdbs      []*policyv1.PodDisruptionBudget
		hpas      []*autoscalingv2.HorizontalPodAutoscaler
		netpols   []*networkingv1.NetworkPolicy
		keys      = map[string]map[string]bool{} // "ConfigMap/name" -> keys
		sas       = map[string]*corev1.ServiceAccount{}
		names     = map[string]bool{} // "Kind/name"
	)
	for k, ks := range OperatorProvided {
		keys[k] = map[string]bool{}
		for _, key := range ks {
			keys[k][key] = true
		}
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ConfigMap:
			m := map[string]bool{}
			for k := range o.Data {
				m[k] = true
			}
			for k := range o.BinaryData {
				m[k] = true
			}
			keys["ConfigMap/"+o.Name] = m
			c.meta("ConfigMap", o.ObjectMeta, names)
		case *corev1.Secret:
			m := map[string]bool{}
			for k := range o.Data {
				m[k] = true
			}
			for k := range o.StringData {
				m[k] = true
			}
			keys["Secret/"+o.Name] = m
			c.meta("Secret", o.ObjectMeta, names)
		case *corev1.ServiceAccount:
			sas[o.Name] = o
			c.meta("ServiceAccount", o.ObjectMeta, names)
			if o.AutomountServiceAccountToken == nil || *o.AutomountServiceAccountToken {
				c.addf("ServiceAccount/%s: automountServiceAccountToken must be false", o.Name)
			}
		case *corev1.Service:
			services = append(services, o)
			c.meta("Service", o.ObjectMeta, names)
		case *appsv1.Deployment:
			c.meta("Deployment", o.ObjectMeta, names)
			workloads = append(workloads, workload{"Deployment/" + o.Name, "Deployment", o.Name, o.Spec.Selector, &o.Spec.Template})
		case *appsv1.StatefulSet:
			c.meta("StatefulSet", o.ObjectMeta, names)
			workloads = append(workloads, workload{"StatefulSet/" + o.Name, "StatefulSet", o.Name, o.Spec.Selector, &o.Spec.Template})
		case *batchv1.Job:
			c.meta("Job", o.ObjectMeta, names)
			if o.Spec.BackoffLimit == nil {
				c.addf("Job/%s: backoffLimit not set", o.Name)
			}
			if o.Spec.TTLSecondsAfterFinished == nil {
				c.addf("Job/%s: ttlSecondsAfterFinished not set", o.Name)
			}
			workloads = append(workloads, workload{"Job/" + o.Name, "Job", o.Name, nil, &o.Spec.Template})
		case *policyv1.PodDisruptionBudget:
			c.meta("PodDisruptionBudget", o.ObjectMeta, names)
			pdbs = append(pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			c.meta("HorizontalPodAutoscaler", o.ObjectMeta, names)
			hpas = append(hpas, o)
		case *networkingv1.NetworkPolicy:
			c.meta("NetworkPolicy", o.ObjectMeta, names)
			netpols = append(netpols, o)
		default:
			c.addf("unexpected object type %T", o)
		}
	}

	for _, w := range workloads {
		c.workload(w, keys, sas)
	}
	servers := func() []workload { // long-running pods, the ones Services, PDBs and policies select
		var out []workload
		for _, w := range workloads {
			if w.kind != "Job" {
				out = append(out, w)
			}
		}
		return out
	}()
	for _, s := range services {
		c.service(s, servers)
	}
	for _, p := range pdbs {
		id := "PodDisruptionBudget/" + p.Name
		if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
			c.addf("%s: neither minAvailable nor maxUnavailable set", id)
		}
		if len(c.matching(id, p.Spec.Selector, servers)) == 0 {
			c.addf("%s: selector matches no Deployment or StatefulSet pods", id)
		}
	}
	for _, h := range hpas {
		id := "HorizontalPodAutoscaler/" + h.Name
		ref := h.Spec.ScaleTargetRef
		if !names[ref.Kind+"/"+ref.Name] || (ref.Kind != "Deployment" && ref.Kind != "StatefulSet") {
			c.addf("%s: scaleTargetRef %s/%s is not a Deployment or StatefulSet in the build", id, ref.Kind, ref.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			c.addf("%s: minReplicas must be set, >= 1 and <= maxReplicas (%d)", id, h.Spec.MaxReplicas)
		}
		if len(h.Spec.Metrics) == 0 {
			c.addf("%s: no metrics", id)
		}
	}
	visibilityPods := false
	for _, np := range netpols {
		id := "NetworkPolicy/" + np.Name
		matched := c.matching(id, &np.Spec.PodSelector, servers)
		if len(matched) == 0 {
			c.addf("%s: podSelector matches no Deployment or StatefulSet pods", id)
		}
		for _, w := range matched {
			if w.pod.Labels["app.kubernetes.io/name"] == "visibility" {
				visibilityPods = true
			}
			for _, rule := range np.Spec.Ingress {
				for _, p := range rule.Ports {
					if p.Port != nil && !hasPort(w.pod, *p.Port) {
						c.addf("%s: ingress port %s is not a container port of %s", id, p.Port.String(), w.id)
					}
				}
			}
		}
	}
	for _, w := range servers {
		if w.pod.Labels["app.kubernetes.io/name"] == "visibility" && !visibilityPods {
			c.addf("no NetworkPolicy selects the visibility pods of %s", w.id)
		}
	}
	sort.Strings(c.problems)
	return c.problems
}

// meta checks what every object needs: namespace-agnostic, unique.
func (c *checker) meta(kind string, m metav1.ObjectMeta, names map[string]bool) {
	id := kind + "/" + m.Name
	if m.Name == "" {
		c.addf("%s object without a name", kind)
	}
	if m.Namespace != "" {
		c.addf("%s: sets metadata.namespace %q; the manifests are namespace-agnostic", id, m.Namespace)
	}
	if names[id] {
		c.addf("%s: defined twice", id)
	}
	names[id] = true
}

func (c *checker) workload(w workload, keys map[string]map[string]bool, sas map[string]*corev1.ServiceAccount) {
	spec := &w.pod.Spec
	if w.selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(w.pod.Labels)) {
			c.addf("%s: selector does not match its own pod template labels", w.id)
		}
	}
	if sa := spec.ServiceAccountName; sa != "" && sas[sa] == nil {
		c.addf("%s: serviceAccountName %q is not in the build", w.id, sa)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		c.addf("%s: pod automountServiceAccountToken must be false", w.id)
	}
	if w.kind == "Deployment" && (spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < 20) {
		c.addf("%s: terminationGracePeriodSeconds must be >= 20 (drain-delay + shutdown-grace)", w.id)
	}
	if psc := spec.SecurityContext; psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.addf("%s: pod securityContext.seccompProfile must be RuntimeDefault", w.id)
	}
	ref := func(where, kind, name, key string, optional *bool) {
		if optional != nil && *optional {
			return
		}
		m, ok := keys[kind+"/"+name]
		switch {
		case !ok:
			c.addf("%s: %s references %s/%s, which is neither in the build nor operator-provided", w.id, where, kind, name)
		case key != "" && !m[key]:
			c.addf("%s: %s references key %q of %s/%s, which does not hold it", w.id, where, key, kind, name)
		}
	}
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			ref("volume "+v.Name, "ConfigMap", v.ConfigMap.Name, "", v.ConfigMap.Optional)
		}
		if v.Secret != nil {
			ref("volume "+v.Name, "Secret", v.Secret.SecretName, "", v.Secret.Optional)
		}
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	if len(spec.Containers) == 0 {
		c.addf("%s: no containers", w.id)
	}
	for _, ct := range all {
		cid := fmt.Sprintf("%s container %s", w.id, ct.Name)
		if ct.Image == "" {
			c.addf("%s: no image", cid)
		}
		sc := ct.SecurityContext
		switch {
		case sc == nil:
			c.addf("%s: no securityContext", cid)
		default:
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				c.addf("%s: securityContext.runAsNonRoot must be true", cid)
			}
			if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
				c.addf("%s: securityContext.runAsUser is 0", cid)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				c.addf("%s: securityContext.readOnlyRootFilesystem must be true", cid)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				c.addf("%s: securityContext.allowPrivilegeEscalation must be false", cid)
			}
			if sc.Privileged != nil && *sc.Privileged {
				c.addf("%s: privileged", cid)
			}
			dropAll := false
			if sc.Capabilities != nil {
				for _, d := range sc.Capabilities.Drop {
					dropAll = dropAll || d == "ALL"
				}
			}
			if !dropAll {
				c.addf("%s: securityContext.capabilities.drop must contain ALL", cid)
			}
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := ct.Resources.Requests[r]; !ok {
				c.addf("%s: no %s request", cid, r)
			}
			if _, ok := ct.Resources.Limits[r]; !ok {
				c.addf("%s: no %s limit", cid, r)
			}
		}
		for _, e := range ct.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				ref("env "+e.Name, "ConfigMap", r.Name, r.Key, r.Optional)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				ref("env "+e.Name, "Secret", r.Name, r.Key, r.Optional)
			}
		}
		for _, e := range ct.EnvFrom {
			if e.ConfigMapRef != nil {
				ref("envFrom", "ConfigMap", e.ConfigMapRef.Name, "", e.ConfigMapRef.Optional)
			}
			if e.SecretRef != nil {
				ref("envFrom", "Secret", e.SecretRef.Name, "", e.SecretRef.Optional)
			}
		}
		if w.kind == "Deployment" {
			if ct.ReadinessProbe == nil {
				c.addf("%s: no readinessProbe", cid)
			}
			if ct.LivenessProbe == nil {
				c.addf("%s: no livenessProbe", cid)
			}
		}
		for name, p := range map[string]*corev1.Probe{"readinessProbe": ct.ReadinessProbe, "livenessProbe": ct.LivenessProbe, "startupProbe": ct.StartupProbe} {
			if p == nil {
				continue
			}
			var port *intstr.IntOrString
			switch {
			case p.GRPC != nil:
				v := intstr.FromInt32(p.GRPC.Port)
				port = &v
			case p.HTTPGet != nil:
				port = &p.HTTPGet.Port
			case p.TCPSocket != nil:
				port = &p.TCPSocket.Port
			}
			if port != nil && !containerHasPort(ct, *port) {
				c.addf("%s: %s uses port %s, which the container does not declare", cid, name, port.String())
			}
		}
	}
}

func (c *checker) service(s *corev1.Service, servers []workload) {
	id := "Service/" + s.Name
	if len(s.Spec.Selector) == 0 {
		c.addf("%s: no selector", id)
		return
	}
	matched := c.matching(id, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}, servers)
	if len(matched) == 0 {
		c.addf("%s: selector %v matches no Deployment or StatefulSet pod labels", id, s.Spec.Selector)
	}
	for _, p := range s.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, w := range matched {
			if !hasPort(w.pod, target) {
				c.addf("%s: port %s targets %s, which no container of %s declares", id, p.Name, target.String(), w.id)
			}
		}
	}
}

func (c *checker) matching(id string, ls *metav1.LabelSelector, ws []workload) []workload {
	if ls == nil {
		c.addf("%s: no selector", id)
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		c.addf("%s: bad selector: %v", id, err)
		return nil
	}
	var out []workload
	for _, w := range ws {
		if sel.Matches(labels.Set(w.pod.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func hasPort(pod *corev1.PodTemplateSpec, port intstr.IntOrString) bool {
	for _, ct := range pod.Spec.Containers {
		if containerHasPort(ct, port) {
			return true
		}
	}
	return false
}

func containerHasPort(ct corev1.Container, port intstr.IntOrString) bool {
	for _, p := range ct.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}
