package api

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/migrate"
)

// metrics live in the server's own registry: two servers in one process
// (tests) never share counters.
type metrics struct {
	reg          *prometheus.Registry
	migrations   *prometheus.CounterVec
	sessions     prometheus.Counter
	phases       *prometheus.HistogramVec
	duration     prometheus.Histogram
	deviceErrors *prometheus.CounterVec
	inFlight     prometheus.Gauge
	queued       prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		migrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sami_migrations_total",
			Help: "Migrations that ended, by kind and result (done, rolled-back, failed, refused, unfinished, cancelled).",
		}, []string{"kind", "result"}),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sami_sessions_moved_total",
			Help: "Sessions moved by migrations that finished done.",
		}),
		phases: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sami_migration_phase_duration_seconds",
			Help:    "How long each phase of a migration took (summed over its devices).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10), // 0.5 ms .. ~2 min
		}, []string{"phase"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sami_migration_duration_seconds",
			Help:    "Wall time of migrations, from start (not queueing) to end.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10), // 5 ms .. ~100 s
		}),
		deviceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sami_device_errors_total",
			Help: "Migrations that ended in an error attributed to a device, by device.",
		}, []string{"device"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sami_migrations_in_flight",
			Help: "Migrations running now.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sami_migrations_queued",
			Help: "Triggers waiting for devices held by running migrations.",
		}),
	}
	m.reg.MustRegister(m.migrations, m.sessions, m.phases, m.duration, m.deviceErrors, m.inFlight, m.queued,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records a migration's end.
func (m *metrics) observe(kind migrate.Kind, result string, rep *migrate.Report, err error) {
	if kind == "" {
		kind = migrate.Planned
	}
	m.migrations.WithLabelValues(string(kind), result).Inc()
	if rep != nil {
		if result == StatusDone {
			m.sessions.Add(float64(rep.Sessions))
		}
		for _, p := range rep.Phases {
			m.phases.WithLabelValues(string(p.Phase)).Observe(p.Duration.Seconds())
		}
		if !rep.Finished.IsZero() && !rep.Started.IsZero() {
			m.duration.Observe(rep.Duration().Seconds())
		}
	}
	if dev := deviceOf(err); dev != "" {
		m.deviceErrors.WithLabelValues(dev).Inc()
	}
}

// deviceOf names the device an error concerns, if the error says.
func deviceOf(err error) string {
	if err == nil {
		return ""
	}
	var de *device.Error
	var ce *migrate.CapacityError
	var fe *migrate.FeatureError
	var ve *migrate.VerifyError
	var me *migrate.DomainError
	switch {
	case errors.As(err, &de):
		return de.Device
	case errors.As(err, &ce):
		return ce.Device
	case errors.As(err, &fe):
		return fe.Device
	case errors.As(err, &ve):
		return ve.Device
	case errors.As(err, &me):
		return me.Destination
	}
	return ""
}
