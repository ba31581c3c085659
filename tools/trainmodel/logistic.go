package main

import (
	"errors"
	"math"
)

// fitLogistic fits an L2-regularized logistic regression by Newton's
// method (iteratively reweighted least squares): minimize
//
//	sum_i w_i (log(1 + exp(z_i)) - y_i z_i) + l2/2 |beta|^2,  z_i = b0 + x_i . beta
//
// (the intercept b0 is not penalized). x is n rows of d standardized
// features, row-major. Every sum runs in index order and every product
// is rounded as written (float64 conversions stop fused multiply-adds),
// so the same input gives the same bits on every machine.
func fitLogistic(x []float64, d int, y []bool, w []float64, l2 float64, maxIter int) (b0 float64, beta []float64, iters int, err error) {
	n := len(y)
	if len(x) != n*d || len(w) != n {
		return 0, nil, 0, errors.New("trainmodel: fit: sizes disagree")
	}
	p := d + 1 // parameters: intercept first
	theta := make([]float64, p)
	grad := make([]float64, p)
	hess := make([]float64, p*p)
	row := make([]float64, p)
	for iters = 1; iters <= maxIter; iters++ {
		clear(grad)
		clear(hess)
		for i := range n {
			row[0] = 1
			copy(row[1:], x[i*d:(i+1)*d])
			z := theta[0]
			for j := 1; j < p; j++ {
				z += float64(theta[j] * row[j])
			}
			pr := sigmoid(z)
			yi := 0.0
			if y[i] {
				yi = 1
			}
			g := float64(w[i] * (pr - yi))
			h := float64(w[i] * float64(pr*(1-pr)))
			for j := range p {
				grad[j] += float64(g * row[j])
				hj := float64(h * row[j])
				if hj == 0 {
					continue
				}
				for k := 0; k <= j; k++ {
					hess[j*p+k] += float64(hj * row[k])
				}
			}
		}
		for j := 1; j < p; j++ {
			grad[j] += float64(l2 * theta[j])
			hess[j*p+j] += l2
		}
		for j := range p {
			for k := 0; k < j; k++ {
				hess[k*p+j] = hess[j*p+k]
			}
		}
		step, err := solveCholesky(hess, grad, p)
		if err != nil {
			return 0, nil, iters, err
		}
		size := 0.0
		for j := range p {
			theta[j] -= step[j]
			size = math.Max(size, math.Abs(step[j]))
		}
		if size < 1e-9 {
			break
		}
	}
	return theta[0], theta[1:], min(iters, maxIter), nil
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// solveCholesky solves A x = b for a symmetric positive definite A (p x p,
// row-major).
func solveCholesky(a, b []float64, p int) ([]float64, error) {
	l := make([]float64, p*p)
	for i := range p {
		for j := 0; j <= i; j++ {
			s := a[i*p+j]
			for k := range j {
				s -= float64(l[i*p+k] * l[j*p+k])
			}
			if i == j {
				if s <= 0 {
					return nil, errors.New("trainmodel: fit: the Hessian is not positive definite (a constant feature?)")
				}
				l[i*p+i] = math.Sqrt(s)
			} else {
				l[i*p+j] = s / l[j*p+j]
			}
		}
	}
	y := make([]float64, p)
	for i := range p {
		s := b[i]
		for k := range i {
			s -= float64(l[i*p+k] * y[k])
		}
		y[i] = s / l[i*p+i]
	}
	x := make([]float64, p)
	for i := p - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < p; k++ {
			s -= float64(l[k*p+i] * x[k])
		}
		x[i] = s / l[i*p+i]
	}
	return x, nil
}
