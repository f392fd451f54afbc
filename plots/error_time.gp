# error_time.gp: relative test error vs wall time of a run, log-log; one point per method and
# n (median over seeds of the error and of the cells' wall times; bars from the min to the
# max error over seeds), labelled with its n. Points are not joined: the cost of some methods
# does not grow with n (a fixed number of training steps), so a line in n order would zigzag.
# Further left and lower is better.
#   gnuplot -c plots/error_time.gp fig_error_time_X.csv out.png ["title"]
# Input: blocks of "wall_s,median,min,max,n,colour,point,dash" rows with a header naming the
# series; colour and marker come from the method's name (style.gp).
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "wall time of one run (s, one core)"
set ylabel "relative test error  E(F − G^*)^2 / Var G^*"
set format x "%g"
set format y "%g"
set key outside right top
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
n_label(n) = n >= 1000 ? sprintf("%gk", n / 1000.0) : sprintf("%d", int(n))
plot for [i=1:nblocks] in_csv index (i - 1) using 1:2:3:4 with yerrorbars \
         lc rgb block_color(i - 1) pt block_point(i - 1) ps 1.2 title columnheader(1), \
     for [i=1:nblocks] in_csv index (i - 1) using 1:2:(n_label($5)) with labels \
         left offset char 0.7, char 0.45 font ",7" tc rgb block_color(i - 1) notitle
